/* plugins/stdio/stdio.c - the "stdio" stream driver: output to stdout, input from stdin. */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <modvm/char.h>
#include <modvm/driver.h>
#include <modvm/interface.h>
#include <modvm/pdm.h>

#include "../stream/fdstream.h"

/*
 * The terminal is left as it is (cooked mode: input arrives a line at a time, and ^C
 * reaches modvm, not the guest); raw mode comes later. stdin and stdout are not ours:
 * their flags are not changed and they are never closed. Two stdio instances would
 * compete for stdin's input.
 */
struct stdio_drv {
	struct fdstream fs;
};

static void *stdio_query_interface(struct pdm_drv_ins *drv, const char *iid)
{
	struct stdio_drv *stdio = drv->data;

	if (!strcmp(iid, PDM_ISTREAM_IID))
		return &stdio->fs.istream;
	return NULL;
}

static int stdio_construct(struct pdm_drv_ins *drv)
{
	struct stdio_drv *stdio = drv->data;
	int in_fd = STDIN_FILENO;
	int rc;

	if (fcntl(STDOUT_FILENO, F_GETFD) < 0)
		return drv->hlp->error(drv, PDM_ERR_IO, "standard output is not open");
	/* A closed stdin is input that has ended, not an error. */
	if (fcntl(STDIN_FILENO, F_GETFD) < 0)
		in_fd = -1;
	rc = fdstream_init(&stdio->fs, drv, "standard output", in_fd, STDOUT_FILENO, false);
	if (rc < 0)
		return drv->hlp->error(drv, rc, "cannot create an eventfd: %s", strerror(errno));
	return PDM_OK;
}

static void stdio_destruct(struct pdm_drv_ins *drv)
{
	struct stdio_drv *stdio = drv->data;

	fdstream_release(&stdio->fs);
}

static const struct pdm_drv_reg stdio_reg = {
	.abi_version = PDM_ABI_VERSION,
	.size = sizeof(struct pdm_drv_reg),
	.name = "stdio",
	.description = "stream to modvm's standard output, from its standard input",
	.flags = 0,
	.max_instances = 0,
	.instance_size = sizeof(struct stdio_drv),
	.config = NULL,
	.construct = stdio_construct,
	.destruct = stdio_destruct,
	.query_interface = stdio_query_interface,
};

PDM_MODULE_DECLARE();

PDM_EXPORT int pdm_module_register(const struct pdm_reg_callbacks *cb, uint32_t core_abi)
{
	return cb->register_driver(cb, &stdio_reg);
}
