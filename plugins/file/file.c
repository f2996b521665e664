/* plugins/file/file.c - the "file" stream driver: output to a file, no input. */

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include <modvm/char.h>
#include <modvm/driver.h>
#include <modvm/interface.h>
#include <modvm/pdm.h>

#include "../stream/fdstream.h"

/* Output-only: the stream's read reports PDM_ERR_EOF, so the char driver stops asking. */
struct file_drv {
	struct fdstream fs;
};

static void *file_query_interface(struct pdm_drv_ins *drv, const char *iid)
{
	struct file_drv *file = drv->data;

	if (!strcmp(iid, PDM_ISTREAM_IID))
		return &file->fs.istream;
	return NULL;
}

static int file_construct(struct pdm_drv_ins *drv)
{
	const struct pdm_drv_hlp *hlp = drv->hlp;
	struct file_drv *file = drv->data;
	const char *path;
	bool is_append;
	int fd, rc;

	rc = hlp->cfg_get_path(drv, "path", &path);
	if (rc < 0)
		return hlp->error(drv, rc, "cannot read 'path': %s", pdm_status_message(rc));
	rc = hlp->cfg_get_bool(drv, "append", &is_append);
	if (rc < 0)
		return hlp->error(drv, rc, "cannot read 'append': %s", pdm_status_message(rc));

	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY | (is_append ? O_APPEND : O_TRUNC),
		  0666);
	if (fd < 0)
		return hlp->error(drv, PDM_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
	rc = fdstream_init(&file->fs, drv, path, -1, fd, true);
	if (rc < 0) {
		int saved = errno;

		close(fd);
		return hlp->error(drv, rc, "cannot create an eventfd: %s", strerror(saved));
	}
	return PDM_OK;
}

static void file_destruct(struct pdm_drv_ins *drv)
{
	struct file_drv *file = drv->data;

	fdstream_release(&file->fs);
}

static const struct pdm_cfg_key file_config[] = {
	{ .name = "path", .type = PDM_CFG_PATH, .flags = PDM_CFG_F_REQUIRED,
	  .help = "output file, created or truncated" },
	{ .name = "append", .type = PDM_CFG_BOOL, .def = "no",
	  .help = "append to the file instead of truncating it" },
	{ .name = NULL },
};

static const struct pdm_drv_reg file_reg = {
	.abi_version = PDM_ABI_VERSION,
	.size = sizeof(struct pdm_drv_reg),
	.name = "file",
	.description = "stream to a file (output only)",
	.flags = 0,
	.max_instances = 0,
	.instance_size = sizeof(struct file_drv),
	.config = file_config,
	.construct = file_construct,
	.destruct = file_destruct,
	.query_interface = file_query_interface,
};

PDM_MODULE_DECLARE();

PDM_EXPORT int pdm_module_register(const struct pdm_reg_callbacks *cb, uint32_t core_abi)
{
	return cb->register_driver(cb, &file_reg);
}
