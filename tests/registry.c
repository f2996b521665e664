/* tests/registry.c - the plugin registry the KVM suites share. */
#include <check.h>
#include <stdlib.h>

#include "tests/registry.h"
#include "tests/testutil.h"

void tu_load_registry(struct pdm_registry *registry)
{
	static const char *const test_plugins[] = { "sink", "recorder" };
	char *builtin = tu_fmt("%s/plugins/.libs", tu_builddir());
	const char *dirs[] = { builtin };
	struct err err = { 0 };

	pdm_registry_init(registry);
	ck_assert_msg(pdm_registry_load_dirs(registry, dirs, 1, &err) == 0, "%s", err.msg);
	for (size_t i = 0; i < sizeof(test_plugins) / sizeof(test_plugins[0]); i++) {
		char *path = tu_fmt("%s/tests/plugins/.libs/%s.so", tu_builddir(), test_plugins[i]);

		ck_assert_msg(pdm_registry_load(registry, path, &err) == 0, "%s", err.msg);
		free(path);
	}
	free(builtin);
}
