/*
 * pdm/module.c - loading plugin modules and registering their device and driver types.
 *
 * The ABI word is read from the file before dlopen: dlopen runs a module's ELF
 * constructors, and a module built against another ABI must not run any code here.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pdm/pdm.h"

#define PDM_SYM_ABI "pdm_module_abi_version"
#define PDM_SYM_ENTRY "pdm_module_register"

/* The registration context a module's callbacks see. */
struct pdm_reg_ctx {
	struct pdm_reg_callbacks cb;      /* first: the module gets &ctx->cb */
	struct pdm_registry *registry;
	struct pdm_module *module;
	struct err *err;
	int status;                       /* first failure of a callback */
};

void pdm_registry_init(struct pdm_registry *registry)
{
	memset(registry, 0, sizeof(*registry));
}

static void pdm_registry_drop_module_types(struct pdm_registry *registry,
					   struct pdm_module *module)
{
	size_t i, n;

	for (i = n = 0; i < registry->dev_count; i++) {
		if (registry->devs[i]->module == module)
			free(registry->devs[i]);
		else
			registry->devs[n++] = registry->devs[i];
	}
	registry->dev_count = n;
	for (i = n = 0; i < registry->drv_count; i++) {
		if (registry->drvs[i]->module == module)
			free(registry->drvs[i]);
		else
			registry->drvs[n++] = registry->drvs[i];
	}
	registry->drv_count = n;
}

static void pdm_module_free(struct pdm_module *module, bool is_kept_loaded)
{
	if (module->handle && !is_kept_loaded)
		dlclose(module->handle);
	free(module->path);
	free(module);
}

void pdm_registry_release(struct pdm_registry *registry)
{
	struct pdm_module *module, *next;

	for (size_t i = 0; i < registry->dev_count; i++)
		free(registry->devs[i]);
	for (size_t i = 0; i < registry->drv_count; i++)
		free(registry->drvs[i]);
	free(registry->devs);
	free(registry->drvs);
	for (module = registry->modules; module; module = next) {
		next = module->next;
		pdm_module_free(module, registry->is_kept_loaded);
	}
	memset(registry, 0, sizeof(*registry));
}

struct pdm_dev_type *pdm_registry_find_dev(struct pdm_registry *registry, const char *name)
{
	for (size_t i = 0; i < registry->dev_count; i++)
		if (!strcmp(registry->devs[i]->reg.name, name))
			return registry->devs[i];
	return NULL;
}

struct pdm_drv_type *pdm_registry_find_drv(struct pdm_registry *registry, const char *name)
{
	for (size_t i = 0; i < registry->drv_count; i++)
		if (!strcmp(registry->drvs[i]->reg.name, name))
			return registry->drvs[i];
	return NULL;
}

/* ---- reading the ABI word out of the ELF file ---- */

static int pdm_pread_all(int fd, void *buf, size_t len, off_t off)
{
	ssize_t n = pread(fd, buf, len, off);

	return n == (ssize_t)len ? 0 : -1;
}

/*
 * Finds symbol `name` in the .dynsym of the file open at fd (path is for messages)
 * and reads the 4 bytes it points at. Returns 0, PDM_ERR_NOT_FOUND when the symbol is
 * absent, or PDM_ERR_ABI with err set.
 */
static int pdm_elf_read_u32(int fd, const char *path, const char *name, uint32_t *value,
			    struct err *err)
{
	Elf64_Ehdr eh;
	Elf64_Shdr *sh = NULL;
	char *strtab = NULL;
	Elf64_Sym *syms = NULL;
	int status = PDM_ERR_NOT_FOUND;

	if (pdm_pread_all(fd, &eh, sizeof(eh), 0) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
	    eh.e_type != ET_DYN || eh.e_shentsize != sizeof(Elf64_Shdr) ||
	    eh.e_shnum == 0 || eh.e_shnum > 4096) {
		status = err_set(err, PDM_ERR_ABI, "'%s' is not an x86-64 ELF shared object", path);
		goto out;
	}
	sh = calloc(eh.e_shnum, sizeof(*sh));
	if (!sh || pdm_pread_all(fd, sh, eh.e_shnum * sizeof(*sh), (off_t)eh.e_shoff)) {
		status = err_set(err, PDM_ERR_ABI, "'%s': unreadable section headers", path);
		goto out;
	}
	for (unsigned i = 0; i < eh.e_shnum && status == PDM_ERR_NOT_FOUND; i++) {
		Elf64_Shdr *dynsym = &sh[i], *str;
		size_t count;

		if (dynsym->sh_type != SHT_DYNSYM || dynsym->sh_link >= eh.e_shnum ||
		    dynsym->sh_entsize != sizeof(Elf64_Sym) || dynsym->sh_size > (64u << 20))
			continue;
		str = &sh[dynsym->sh_link];
		if (str->sh_size == 0 || str->sh_size > (64u << 20))
			continue;
		count = dynsym->sh_size / sizeof(Elf64_Sym);
		syms = malloc(dynsym->sh_size);
		strtab = malloc(str->sh_size + 1);
		if (!syms || !strtab ||
		    pdm_pread_all(fd, syms, dynsym->sh_size, (off_t)dynsym->sh_offset) ||
		    pdm_pread_all(fd, strtab, str->sh_size, (off_t)str->sh_offset)) {
			status = err_set(err, PDM_ERR_ABI, "'%s': unreadable symbol table", path);
			goto out;
		}
		strtab[str->sh_size] = '\0';
		for (size_t j = 0; j < count; j++) {
			Elf64_Sym *sym = &syms[j];
			Elf64_Shdr *sec;

			if (sym->st_name >= str->sh_size || strcmp(strtab + sym->st_name, name) ||
			    sym->st_shndx == SHN_UNDEF)
				continue;
			if (sym->st_shndx >= eh.e_shnum || sym->st_size != sizeof(uint32_t)) {
				status = err_set(err, PDM_ERR_ABI, "'%s': symbol '%s' is malformed",
						 path, name);
				goto out;
			}
			sec = &sh[sym->st_shndx];
			/* Written so that no sum can wrap: the file may be hostile. */
			if (sec->sh_type == SHT_NOBITS || sym->st_value < sec->sh_addr ||
			    sym->st_value - sec->sh_addr > sec->sh_size ||
			    sec->sh_size - (sym->st_value - sec->sh_addr) < sizeof(uint32_t) ||
			    pdm_pread_all(fd, value, sizeof(*value),
					  (off_t)(sym->st_value - sec->sh_addr + sec->sh_offset))) {
				status = err_set(err, PDM_ERR_ABI, "'%s': symbol '%s' has no value",
						 path, name);
				goto out;
			}
			status = 0;
			break;
		}
		free(syms);
		free(strtab);
		syms = NULL;
		strtab = NULL;
	}
out:
	free(syms);
	free(strtab);
	free(sh);
	return status;
}

/* ---- registration callbacks ---- */

/* Type names appear in INI section paths: keep them to what a path component can be. */
static bool pdm_name_is_valid(const char *name)
{
	if (!name || !*name || strlen(name) > 32)
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
			return false;
	return true;
}

static bool pdm_abi_is_compatible(uint32_t version)
{
	return PDM_ABI_MAJOR_OF(version) == PDM_ABI_MAJOR &&
	       PDM_ABI_MINOR_OF(version) <= PDM_ABI_MINOR;
}

/*
 * Checks a record's head and copies it zero-extended into dst, so that a record from a
 * module built against an older minor (a shorter record) reads as NULL callbacks.
 */
static int pdm_copy_record(struct pdm_reg_ctx *ctx, const void *src, void *dst, size_t dst_size,
			   size_t min_size, const char *kind)
{
	const uint32_t *head = src;
	const char *path = ctx->module->path;

	if (!src)
		return err_set(ctx->err, PDM_ERR_INVALID_ARG, "'%s': NULL %s record", path, kind);
	if (!pdm_abi_is_compatible(head[0]))
		return err_set(ctx->err, PDM_ERR_ABI,
			       "'%s': %s record has ABI %u.%u, this modvm has %u.%u", path, kind,
			       PDM_ABI_MAJOR_OF(head[0]), PDM_ABI_MINOR_OF(head[0]),
			       PDM_ABI_MAJOR, PDM_ABI_MINOR);
	if (head[1] < min_size || head[1] > (1u << 16))
		return err_set(ctx->err, PDM_ERR_ABI, "'%s': %s record size %u is not plausible",
			       path, kind, head[1]);
	memset(dst, 0, dst_size);
	memcpy(dst, src, head[1] < dst_size ? head[1] : dst_size);
	return 0;
}

static int pdm_check_common(struct pdm_reg_ctx *ctx, const char *kind, const char *name,
			    bool has_construct, size_t instance_size,
			    const struct pdm_cfg_key *config)
{
	struct pdm_registry *registry = ctx->registry;
	const char *path = ctx->module->path;
	struct err schema_err;

	if (!pdm_name_is_valid(name))
		return err_set(ctx->err, PDM_ERR_INVALID_ARG,
			       "'%s': %s name '%s' is invalid (use a-z, 0-9, '-', '_'; 32 at most)",
			       path, kind, name ? name : "(null)");
	if (!has_construct)
		return err_set(ctx->err, PDM_ERR_INVALID_ARG,
			       "'%s': %s '%s' has no construct callback", path, kind, name);
	if (instance_size > (256u << 20))
		return err_set(ctx->err, PDM_ERR_INVALID_ARG,
			       "'%s': %s '%s' asks for %zu bytes of instance data", path, kind,
			       name, instance_size);
	if (cfg_schema_validate(config, &schema_err))
		return err_set(ctx->err, PDM_ERR_ABI, "'%s': %s '%s': %s", path, kind, name,
			       schema_err.msg);
	if (pdm_registry_find_dev(registry, name) || pdm_registry_find_drv(registry, name)) {
		struct pdm_dev_type *dev = pdm_registry_find_dev(registry, name);
		struct pdm_drv_type *drv = pdm_registry_find_drv(registry, name);

		return err_set(ctx->err, PDM_ERR_DUPLICATE,
			       "'%s': %s '%s' is already registered by '%s'", path, kind, name,
			       dev ? dev->module->path : drv->module->path);
	}
	return 0;
}

/* Frees a type that could not be registered; the first failure's message stays. */
static int pdm_reg_refuse(struct pdm_reg_ctx *ctx, void *type, int status)
{
	free(type);
	if (!ctx->status)
		ctx->status = status;
	return status;
}

static int pdm_cb_register_device(const struct pdm_reg_callbacks *cb, const struct pdm_dev_reg *reg)
{
	struct pdm_reg_ctx *ctx = PDM_CONTAINER_OF(cb, struct pdm_reg_ctx, cb);
	struct pdm_registry *registry = ctx->registry;
	struct pdm_dev_type *type, **devs;
	int status;

	type = calloc(1, sizeof(*type));
	if (!type)
		return pdm_reg_refuse(ctx, NULL, err_set(ctx->err, PDM_ERR_NO_MEMORY, "out of memory"));
	status = pdm_copy_record(ctx, reg, &type->reg, sizeof(type->reg),
				 offsetof(struct pdm_dev_reg, query_interface) + sizeof(void *),
				 "device");
	if (!status)
		status = pdm_check_common(ctx, "device", type->reg.name, type->reg.construct,
					  type->reg.instance_size, type->reg.config);
	if (status)
		return pdm_reg_refuse(ctx, type, status);
	devs = realloc(registry->devs, (registry->dev_count + 1) * sizeof(*devs));
	if (!devs)
		return pdm_reg_refuse(ctx, type, err_set(ctx->err, PDM_ERR_NO_MEMORY, "out of memory"));
	registry->devs = devs;
	type->module = ctx->module;
	registry->devs[registry->dev_count++] = type;
	return 0;
}

static int pdm_cb_register_driver(const struct pdm_reg_callbacks *cb, const struct pdm_drv_reg *reg)
{
	struct pdm_reg_ctx *ctx = PDM_CONTAINER_OF(cb, struct pdm_reg_ctx, cb);
	struct pdm_registry *registry = ctx->registry;
	struct pdm_drv_type *type, **drvs;
	int status;

	type = calloc(1, sizeof(*type));
	if (!type)
		return pdm_reg_refuse(ctx, NULL, err_set(ctx->err, PDM_ERR_NO_MEMORY, "out of memory"));
	status = pdm_copy_record(ctx, reg, &type->reg, sizeof(type->reg),
				 offsetof(struct pdm_drv_reg, query_interface) + sizeof(void *),
				 "driver");
	if (!status)
		status = pdm_check_common(ctx, "driver", type->reg.name, type->reg.construct,
					  type->reg.instance_size, type->reg.config);
	if (!status && !type->reg.query_interface)
		status = err_set(ctx->err, PDM_ERR_INVALID_ARG,
				 "'%s': driver '%s' has no query_interface callback",
				 ctx->module->path, type->reg.name);
	if (status)
		return pdm_reg_refuse(ctx, type, status);
	drvs = realloc(registry->drvs, (registry->drv_count + 1) * sizeof(*drvs));
	if (!drvs)
		return pdm_reg_refuse(ctx, type, err_set(ctx->err, PDM_ERR_NO_MEMORY, "out of memory"));
	registry->drvs = drvs;
	type->module = ctx->module;
	registry->drvs[registry->drv_count++] = type;
	return 0;
}

/* ---- loading ---- */

int pdm_registry_load(struct pdm_registry *registry, const char *path, struct err *err)
{
	int (*entry)(const struct pdm_reg_callbacks *, uint32_t);
	struct pdm_reg_ctx ctx = {
		.cb = {
			.version = PDM_ABI_VERSION,
			.size = sizeof(struct pdm_reg_callbacks),
			.register_device = pdm_cb_register_device,
			.register_driver = pdm_cb_register_driver,
		},
		.registry = registry,
		.err = err,
	};
	struct pdm_module *module, **tail;
	uint32_t abi;
	int fd, status;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err, PDM_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
	status = pdm_elf_read_u32(fd, path, PDM_SYM_ABI, &abi, err);
	if (status == PDM_ERR_NOT_FOUND)
		status = err_set(err, PDM_ERR_ABI, "'%s' is not a modvm plugin (no '%s' symbol)",
				 path, PDM_SYM_ABI);
	else if (!status && !pdm_abi_is_compatible(abi))
		status = err_set(err, PDM_ERR_ABI,
				 "'%s' was built for plugin ABI %u.%u; this modvm expects %u.%u "
				 "(same major, minor at most %u)", path, PDM_ABI_MAJOR_OF(abi),
				 PDM_ABI_MINOR_OF(abi), PDM_ABI_MAJOR, PDM_ABI_MINOR, PDM_ABI_MINOR);
	if (status) {
		close(fd);
		return status;
	}

	module = calloc(1, sizeof(*module));
	if (!module || !(module->path = strdup(path))) {
		free(module);
		close(fd);
		return err_set(err, PDM_ERR_NO_MEMORY, "out of memory");
	}
	module->abi_version = abi;
	/*
	 * By path, not through /proc/self/fd: glibc tells loaded objects apart by name
	 * (fd numbers are reused) and debuggers find a plugin's symbols by it. Whoever
	 * can swap a file in a plugin folder between check and load can plant code there
	 * anyway, so the window buys an attacker nothing.
	 */
	module->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	close(fd);
	if (!module->handle) {
		status = err_set(err, PDM_ERR_ABI, "cannot load '%s': %s", path, dlerror());
		goto fail;
	}
	*(void **)&entry = dlsym(module->handle, PDM_SYM_ENTRY);
	if (!entry) {
		status = err_set(err, PDM_ERR_NO_ENTRY, "'%s' has no entry point '%s'", path,
				 PDM_SYM_ENTRY);
		goto fail;
	}
	ctx.module = module;
	status = entry(&ctx.cb, PDM_ABI_VERSION);
	if (ctx.status)
		status = ctx.status;        /* the callback's message is the better one */
	else if (status)
		status = err_set(err, status, "'%s': registration failed: %s", path,
				 pdm_status_message(status));
	if (status)
		goto fail;
	for (tail = &registry->modules; *tail; tail = &(*tail)->next)
		;
	*tail = module;
	return 0;
fail:
	pdm_registry_drop_module_types(registry, module);
	pdm_module_free(module, false);
	return status;
}

static int pdm_filter_so(const struct dirent *d)
{
	size_t len = strlen(d->d_name);

	return len > 3 && !strcmp(d->d_name + len - 3, ".so");
}

static bool pdm_module_basename_loaded(struct pdm_registry *registry, const char *base)
{
	for (struct pdm_module *m = registry->modules; m; m = m->next) {
		const char *slash = strrchr(m->path, '/');

		if (!strcmp(slash ? slash + 1 : m->path, base))
			return true;
	}
	return false;
}

int pdm_registry_load_dirs(struct pdm_registry *registry, const char *const *dirs,
			   size_t dir_count, struct err *err)
{
	int status = 0;

	for (size_t i = 0; i < dir_count && !status; i++) {
		struct dirent **names;
		int count = scandir(dirs[i], &names, pdm_filter_so, alphasort);

		if (count < 0)
			continue;           /* a folder that does not exist adds nothing */
		for (int j = 0; j < count; j++) {
			char path[4096];

			if (!status && !pdm_module_basename_loaded(registry, names[j]->d_name)) {
				snprintf(path, sizeof(path), "%s/%s", dirs[i], names[j]->d_name);
				status = pdm_registry_load(registry, path, err);
			}
			free(names[j]);
		}
		free(names);
	}
	return status;
}

typedef void (*pdm_type_fn)(struct pdm_registry *registry, const char *name, bool is_device,
			    void *user);

/* Calls fn for each type named below node: device types at the type level, drivers anywhere. */
static void pdm_walk_named_types(struct pdm_registry *registry, struct cfg_node *node,
				 bool is_type_level, pdm_type_fn fn, void *user)
{
	for (struct cfg_node *child = node->first_child; child; child = child->next_sibling) {
		struct cfg_value *driver = cfg_value_find(child, "driver");

		if (is_type_level)
			fn(registry, child->name, true, user);
		if (driver)
			fn(registry, driver->text, false, user);
		pdm_walk_named_types(registry, child, false, fn, user);
	}
}

/* The same for the whole [devices] part of a config tree. */
static void pdm_for_each_named_type(struct pdm_registry *registry, struct cfg_node *root,
				    pdm_type_fn fn, void *user)
{
	struct cfg_node *devices = cfg_find(root, "devices");

	if (devices)
		pdm_walk_named_types(registry, devices, true, fn, user);
}

/* The module that registered a device or driver type, or NULL (unknown, or built in). */
static struct pdm_module *pdm_type_module(struct pdm_registry *registry, const char *name,
					  bool is_device, bool *is_known)
{
	if (is_device) {
		struct pdm_dev_type *dev = pdm_registry_find_dev(registry, name);

		*is_known = dev != NULL;
		return dev ? dev->module : NULL;
	} else {
		struct pdm_drv_type *drv = pdm_registry_find_drv(registry, name);

		*is_known = drv != NULL;
		return drv ? drv->module : NULL;
	}
}

static void pdm_mark_used(struct pdm_registry *registry, const char *name, bool is_device,
			  void *user)
{
	bool is_known;
	struct pdm_module *module = pdm_type_module(registry, name, is_device, &is_known);

	(void)user;
	if (module)
		module->is_used = true;
}

struct pdm_load_named {
	const char *const *dirs;
	size_t dir_count;
	struct err *err;
	int status;
	bool is_missing;            /* a type that no TYPE.so provided */
};

/* A type name that can be a file name in a plugin folder, and nothing else. */
static bool pdm_is_plain_name(const char *name)
{
	if (!*name || *name == '.' || strlen(name) > 200)
		return false;
	for (const char *p = name; *p; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && !strchr("-_.", *p))
			return false;
	return true;
}

/* Loads name.so from the first folder that has it, unless the type is known already. */
static void pdm_load_named_type(struct pdm_registry *registry, const char *name, bool is_device,
				void *user)
{
	struct pdm_load_named *ctx = user;
	bool is_known;
	char base[256];

	pdm_type_module(registry, name, is_device, &is_known);
	if (ctx->status || is_known)
		return;
	if (!pdm_is_plain_name(name)) {
		ctx->is_missing = true;
		return;
	}
	snprintf(base, sizeof(base), "%s.so", name);
	for (size_t i = 0; i < ctx->dir_count; i++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/%s", ctx->dirs[i], base);
		if (access(path, F_OK))
			continue;
		if (!pdm_module_basename_loaded(registry, base))
			ctx->status = pdm_registry_load(registry, path, ctx->err);
		break;                  /* the first folder's wins, as in pdm_registry_load_dirs */
	}
	pdm_type_module(registry, name, is_device, &is_known);
	if (!ctx->status && !is_known)
		ctx->is_missing = true;
}

int pdm_registry_load_named(struct pdm_registry *registry, const char *const *dirs,
			    size_t dir_count, struct cfg_node *root, struct err *err)
{
	struct pdm_load_named ctx = { .dirs = dirs, .dir_count = dir_count, .err = err };

	pdm_for_each_named_type(registry, root, pdm_load_named_type, &ctx);
	if (ctx.status)
		return ctx.status;
	return ctx.is_missing ? pdm_registry_load_dirs(registry, dirs, dir_count, err) : 0;
}

unsigned pdm_registry_unload_unused(struct pdm_registry *registry, struct cfg_node *root)
{
	struct pdm_module **link = &registry->modules;
	unsigned count = 0;

	for (struct pdm_module *m = registry->modules; m; m = m->next)
		m->is_used = false;
	pdm_for_each_named_type(registry, root, pdm_mark_used, NULL);
	while (*link) {
		struct pdm_module *module = *link;

		if (module->is_used) {
			link = &module->next;
			continue;
		}
		*link = module->next;
		pdm_registry_drop_module_types(registry, module);
		pdm_module_free(module, false);
		count++;
	}
	return count;
}
