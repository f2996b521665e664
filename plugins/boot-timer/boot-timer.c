/*
 * plugins/boot-timer/boot-timer.c - the "boot-timer" device: the guest says when it
 * has booted, and modvm logs how long that took.
 *
 * Like Firecracker's boot timer: the guest writes the value 123 to the port (iobase,
 * 0x440 by default; a byte, word or long write of 123, e.g. from an init script:
 * `printf '\173' | dd of=/dev/port bs=1 seek=$((0x440))`), and modvm logs at info
 * level, in a fixed format meant for scripts:
 *
 *     modvm: boot-timer#0: guest boot done 1234.567 ms after modvm started
 *
 * The time runs from the start of the modvm process (machine_info's start_time_ns),
 * so it includes reading the configuration, loading plugins and building the VM, as a
 * user timing `modvm run` would see it. Every signal is logged: a guest may mark
 * several stages. Writes of other values, at other offsets, and reads (which give 0)
 * are counted, not logged, since a guest can repeat them at will.
 */
#include <inttypes.h>
#include <time.h>

#include <modvm/device.h>
#include <modvm/pdm.h>

#define BOOT_TIMER_MAGIC 123        /* Firecracker's "guest boot complete" value */
#define BOOT_TIMER_PORT_COUNT 4     /* a long write at iobase arrives whole */

/* ---- state ---- */

struct boot_timer {
	uint64_t start_time_ns;     /* CLOCK_MONOTONIC when modvm started */
	uint64_t signal_count;
	uint64_t ignored_count;
};

/* ---- pure helpers ---- */

static uint64_t boot_timer_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- guest-facing handlers ---- */

static int boot_timer_io_in(struct pdm_dev_ins *dev, void *user, uint16_t offset,
			    uint32_t *value, unsigned size)
{
	((struct boot_timer *)user)->ignored_count++;
	*value = 0;
	return PDM_OK;
}

static int boot_timer_io_out(struct pdm_dev_ins *dev, void *user, uint16_t offset,
			     uint32_t value, unsigned size)
{
	struct boot_timer *timer = user;
	uint64_t now_ns = boot_timer_now_ns(), elapsed_ns;

	if (offset != 0 || value != BOOT_TIMER_MAGIC) {
		timer->ignored_count++;
		return PDM_OK;
	}
	timer->signal_count++;
	elapsed_ns = now_ns > timer->start_time_ns ? now_ns - timer->start_time_ns : 0;
	dev->hlp->log(dev, PDM_LOG_INFO, "guest boot done %" PRIu64 ".%03" PRIu64
		      " ms after modvm started", elapsed_ns / 1000000, elapsed_ns / 1000 % 1000);
	return PDM_OK;
}

/* ---- lifecycle ---- */

static int boot_timer_construct(struct pdm_dev_ins *dev)
{
	const struct pdm_dev_hlp *hlp = dev->hlp;
	struct boot_timer *timer = dev->data;
	struct pdm_machine_info info = PDM_MACHINE_INFO_INIT;
	int64_t iobase;
	int rc;

	rc = hlp->cfg_get_int(dev, "iobase", &iobase);
	if (rc < 0)
		return rc;
	rc = hlp->machine_info(dev, &info);
	if (rc < 0)
		return rc;
	timer->start_time_ns = info.start_time_ns;
	return hlp->ioport_register(dev, (uint16_t)iobase, BOOT_TIMER_PORT_COUNT, timer,
				    boot_timer_io_in, boot_timer_io_out, "boot-timer");
}

static void boot_timer_destruct(struct pdm_dev_ins *dev)
{
	struct boot_timer *timer = dev->data;

	if (timer->signal_count || timer->ignored_count)
		dev->hlp->log(dev, PDM_LOG_DEBUG, "%" PRIu64 " boot signals, %" PRIu64
			      " other accesses ignored", timer->signal_count, timer->ignored_count);
}

/* ---- config schema and registration ---- */

static const struct pdm_cfg_key boot_timer_config[] = {
	{ .name = "iobase", .type = PDM_CFG_INT, .def = "0x440", .min = 0,
	  .max = 0x10000 - BOOT_TIMER_PORT_COUNT,
	  .help = "port the guest writes 123 to when it has booted (4 ports claimed)" },
	{ .name = NULL },
};

static const struct pdm_dev_reg boot_timer_reg = {
	.abi_version = PDM_ABI_VERSION,
	.size = sizeof(struct pdm_dev_reg),
	.name = "boot-timer",
	.description = "logs the time from modvm's start to the guest writing 123 to its port",
	.instance_size = sizeof(struct boot_timer),
	.config = boot_timer_config,
	.construct = boot_timer_construct,
	.destruct = boot_timer_destruct,
};

PDM_MODULE_DECLARE();

PDM_EXPORT int pdm_module_register(const struct pdm_reg_callbacks *cb, uint32_t core_abi)
{
	return cb->register_device(cb, &boot_timer_reg);
}
