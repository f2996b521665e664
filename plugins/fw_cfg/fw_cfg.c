/*
 * plugins/fw_cfg/fw_cfg.c - the "fw_cfg" device: QEMU's firmware configuration
 * interface, its legacy I/O port part, so that guests written for QEMU find the
 * machine's RAM size, CPU count and command line where they look for them.
 *
 * The reference is QEMU's docs/specs/fw_cfg.rst. Two ports:
 *  - iobase (0x510 on x86), the selector: a 16-bit write selects an item and sets
 *    the read offset back to 0. Bit 14 (0x4000, the old write channel) is ignored, as
 *    in QEMU, so 0x4000 | key reads key; bit 15 (0x8000) selects the architecture's
 *    own items, of which there are none here.
 *  - iobase + 1 (0x511), the data port: each 1-byte read returns the next byte of
 *    the selected item, then 0 past its end.
 * Unknown items read as 0, like an item past its end. Writes to the data port are
 * ignored, as in QEMU since 2.4 (writes came back only through DMA). There is no DMA
 * interface, and FW_CFG_ID says so. The values are taken once, at construction, from
 * machine_info; they do not change while the VM exists.
 * Deviations: the selector port reads 0 (QEMU reads data through both ports); accesses
 * of widths the interface does not define are counted and ignored.
 */
#include <stddef.h>
#include <string.h>

#include <modvm/device.h>
#include <modvm/pdm.h>

#define FW_CFG_PORT_SELECTOR 0      /* offsets from iobase */
#define FW_CFG_PORT_DATA 1
#define FW_CFG_PORT_COUNT 2

/* Item keys: QEMU's include/standard-headers/linux/qemu_fw_cfg.h. */
#define FW_CFG_SIGNATURE 0x00
#define FW_CFG_ID 0x01
#define FW_CFG_RAM_SIZE 0x03
#define FW_CFG_NB_CPUS 0x05
#define FW_CFG_MAX_CPUS 0x0f
#define FW_CFG_CMDLINE_SIZE 0x14
#define FW_CFG_CMDLINE_DATA 0x15
#define FW_CFG_FILE_DIR 0x19

#define FW_CFG_WRITE_CHANNEL 0x4000
#define FW_CFG_ARCH_LOCAL 0x8000

#define FW_CFG_ID_TRADITIONAL 0x1   /* the I/O port interface; 0x2 would be DMA */

#define FW_CFG_ITEM_COUNT 8

/* ---- state ---- */

struct fw_cfg_item {
	uint16_t key;
	uint32_t size;
	const uint8_t *data;
};

struct fw_cfg {
	/*
	 * The items, built at construction: data points into the buffers below, or at
	 * the command line, which lives as long as the VM.
	 */
	struct fw_cfg_item items[FW_CFG_ITEM_COUNT];
	unsigned item_count;
	uint8_t id[4];
	uint8_t ram_size[8];
	uint8_t nb_cpus[2];
	uint8_t max_cpus[2];
	uint8_t cmdline_size[4];
	uint8_t file_dir[4];

	/* The guest's view, under the device lock. */
	const struct fw_cfg_item *selected;     /* NULL: an unknown key */
	uint32_t offset;

	uint64_t ignored_count;                 /* data writes and odd accesses */
};

/* ---- pure helpers ---- */

static void fw_cfg_put_le(uint8_t *buf, uint64_t value, unsigned size)
{
	for (unsigned i = 0; i < size; i++)
		buf[i] = (uint8_t)(value >> (8 * i));
}

static void fw_cfg_add(struct fw_cfg *fw_cfg, uint16_t key, const void *data, uint32_t size)
{
	fw_cfg->items[fw_cfg->item_count++] = (struct fw_cfg_item){ key, size, data };
}

static const struct fw_cfg_item *fw_cfg_find(const struct fw_cfg *fw_cfg, uint16_t selector)
{
	uint16_t key;

	if (selector & FW_CFG_ARCH_LOCAL)
		return NULL;
	key = selector & (uint16_t)~FW_CFG_WRITE_CHANNEL;
	for (unsigned i = 0; i < fw_cfg->item_count; i++)
		if (fw_cfg->items[i].key == key)
			return &fw_cfg->items[i];
	return NULL;
}

static void fw_cfg_select(struct fw_cfg *fw_cfg, uint16_t selector)
{
	fw_cfg->selected = fw_cfg_find(fw_cfg, selector);
	fw_cfg->offset = 0;
}

/* The next byte of the selected item; 0 past its end or for an unknown key. */
static uint8_t fw_cfg_read_byte(struct fw_cfg *fw_cfg)
{
	const struct fw_cfg_item *item = fw_cfg->selected;

	if (!item || fw_cfg->offset >= item->size)
		return 0;
	return item->data[fw_cfg->offset++];
}

/* ---- guest-facing handlers ---- */

static int fw_cfg_io_in(struct pdm_dev_ins *dev, void *user, uint16_t offset, uint32_t *value,
			unsigned size)
{
	struct fw_cfg *fw_cfg = user;

	*value = 0;
	if (offset != FW_CFG_PORT_DATA || size != 1) {
		fw_cfg->ignored_count++;
		return PDM_OK;
	}
	*value = fw_cfg_read_byte(fw_cfg);
	return PDM_OK;
}

static int fw_cfg_io_out(struct pdm_dev_ins *dev, void *user, uint16_t offset, uint32_t value,
			 unsigned size)
{
	struct fw_cfg *fw_cfg = user;

	/* Only a 16-bit write selects: a byte write there is a data write in QEMU. */
	if (offset == FW_CFG_PORT_SELECTOR && size == 2)
		fw_cfg_select(fw_cfg, (uint16_t)value);
	else
		fw_cfg->ignored_count++;
	return PDM_OK;
}

/* ---- lifecycle ---- */

static int fw_cfg_construct(struct pdm_dev_ins *dev)
{
	const struct pdm_dev_hlp *hlp = dev->hlp;
	struct fw_cfg *fw_cfg = dev->data;
	struct pdm_machine_info info = PDM_MACHINE_INFO_INIT;
	int64_t iobase;
	int rc;

	/* The schema keeps iobase + 1 below 0x10000. */
	rc = hlp->cfg_get_int(dev, "iobase", &iobase);
	if (rc < 0)
		return rc;
	rc = hlp->machine_info(dev, &info);
	if (rc < 0)
		return rc;

	/* The encodings are QEMU's: little-endian integers, a big-endian file count. */
	fw_cfg_put_le(fw_cfg->id, FW_CFG_ID_TRADITIONAL, sizeof(fw_cfg->id));
	fw_cfg_put_le(fw_cfg->ram_size, info.ram_size, sizeof(fw_cfg->ram_size));
	fw_cfg_put_le(fw_cfg->nb_cpus, info.cpus, sizeof(fw_cfg->nb_cpus));
	/* No CPU hot-plug: the most there can be is what there is. */
	fw_cfg_put_le(fw_cfg->max_cpus, info.cpus, sizeof(fw_cfg->max_cpus));
	fw_cfg_put_le(fw_cfg->cmdline_size, strlen(info.cmdline) + 1, sizeof(fw_cfg->cmdline_size));
	memset(fw_cfg->file_dir, 0, sizeof(fw_cfg->file_dir));

	fw_cfg_add(fw_cfg, FW_CFG_SIGNATURE, "QEMU", 4);
	fw_cfg_add(fw_cfg, FW_CFG_ID, fw_cfg->id, sizeof(fw_cfg->id));
	fw_cfg_add(fw_cfg, FW_CFG_RAM_SIZE, fw_cfg->ram_size, sizeof(fw_cfg->ram_size));
	fw_cfg_add(fw_cfg, FW_CFG_NB_CPUS, fw_cfg->nb_cpus, sizeof(fw_cfg->nb_cpus));
	fw_cfg_add(fw_cfg, FW_CFG_MAX_CPUS, fw_cfg->max_cpus, sizeof(fw_cfg->max_cpus));
	fw_cfg_add(fw_cfg, FW_CFG_CMDLINE_SIZE, fw_cfg->cmdline_size, sizeof(fw_cfg->cmdline_size));
	fw_cfg_add(fw_cfg, FW_CFG_CMDLINE_DATA, info.cmdline, (uint32_t)strlen(info.cmdline) + 1);
	fw_cfg_add(fw_cfg, FW_CFG_FILE_DIR, fw_cfg->file_dir, sizeof(fw_cfg->file_dir));
	/* As after QEMU's reset: the signature is selected. */
	fw_cfg_select(fw_cfg, FW_CFG_SIGNATURE);

	return hlp->ioport_register(dev, (uint16_t)iobase, FW_CFG_PORT_COUNT, fw_cfg, fw_cfg_io_in,
				    fw_cfg_io_out, "fw_cfg");
}

static void fw_cfg_reset(struct pdm_dev_ins *dev)
{
	struct fw_cfg *fw_cfg = dev->data;

	dev->hlp->lock(dev);
	fw_cfg_select(fw_cfg, FW_CFG_SIGNATURE);
	dev->hlp->unlock(dev);
}

static void fw_cfg_destruct(struct pdm_dev_ins *dev)
{
	struct fw_cfg *fw_cfg = dev->data;

	if (fw_cfg->ignored_count)
		dev->hlp->log(dev, PDM_LOG_DEBUG, "ignored %llu data writes and accesses of other widths",
			      (unsigned long long)fw_cfg->ignored_count);
}

/* ---- config schema and registration ---- */

static const struct pdm_cfg_key fw_cfg_config[] = {
	{ .name = "iobase", .type = PDM_CFG_INT, .def = "0x510", .min = 0, .max = 0xfffe,
	  .help = "selector port; the data port is the next one (QEMU: 0x510, 0x511)" },
	{ .name = NULL },
};

static const struct pdm_dev_reg fw_cfg_reg = {
	.abi_version = PDM_ABI_VERSION,
	.size = sizeof(struct pdm_dev_reg),
	.name = "fw_cfg",
	.description = "QEMU's firmware configuration ports: RAM size, CPUs, command line",
	.max_instances = 1,
	.instance_size = sizeof(struct fw_cfg),
	.config = fw_cfg_config,
	.construct = fw_cfg_construct,
	.reset = fw_cfg_reset,
	.destruct = fw_cfg_destruct,
};

PDM_MODULE_DECLARE();

PDM_EXPORT int pdm_module_register(const struct pdm_reg_callbacks *cb, uint32_t core_abi)
{
	return cb->register_device(cb, &fw_cfg_reg);
}
