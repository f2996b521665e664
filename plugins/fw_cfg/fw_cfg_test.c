/*
 * plugins/fw_cfg/fw_cfg_test.c - the fw_cfg plugin byte by byte, without KVM: the
 * real module is constructed by pdm against a fake VM that hands it a known machine
 * (3 vCPUs, 96 MiB, a command line) and keeps the port handlers it registers; the
 * tests then call them as the EMT would, the device lock held.
 * fw_cfg_guest_test.c runs a real guest against it.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pdm/pdm.h"
#include "tests/testutil.h"

#define CMDLINE "console=ttyS0 root=/dev/vda rw"

struct fake_vm {
	struct pdm_dev_ins *dev;
	uint16_t port;
	uint32_t count;
	void *user;
	pdm_ioport_in_fn in;
	pdm_ioport_out_fn out;
	int registrations;
	const char *cmdline;
};

static char *tmp;
static struct pdm_registry registry;
static struct cfg_tree *tree;
static struct pdm pdm;
static struct fake_vm vm;

static int fake_ioport_register(void *ctx, struct pdm_dev_ins *dev, uint16_t port,
				uint32_t count, void *user, pdm_ioport_in_fn in,
				pdm_ioport_out_fn out, const char *desc, struct err *err)
{
	struct fake_vm *fake = ctx;

	fake->dev = dev;
	fake->port = port;
	fake->count = count;
	fake->user = user;
	fake->in = in;
	fake->out = out;
	fake->registrations++;
	return 0;
}

static enum pdm_vm_state fake_vm_state(void *ctx)
{
	return PDM_VM_RUNNING;
}

static void fake_machine_info(void *ctx, struct pdm_machine_info *info)
{
	info->cpus = 3;
	info->ram_size = 96ull << 20;
	info->cmdline = ((struct fake_vm *)ctx)->cmdline;
	info->vm_name = "fake";
	info->start_time_ns = 1;
}

static const struct pdm_host fake_host = {
	.ctx = &vm,
	.ioport_register = fake_ioport_register,
	.vm_state = fake_vm_state,
	.machine_info = fake_machine_info,
};

/* Constructs [devices/fw_cfg/0] with `keys` on the fake VM, whose cmdline is `cmdline`. */
static void construct(const char *keys, const char *cmdline)
{
	char *ini = tu_fmt("%s/vm.ini", tmp), *text = tu_fmt("[devices/fw_cfg/0]\n%s", keys);
	struct cfg_diag diag;
	struct err err = { 0 };

	tu_write_file(ini, text);
	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load(ini, &tree, &diag), 0);
	ck_assert_int_eq(pdm_check_config(&registry, tree->root, &diag), 0);
	cfg_diag_release(&diag);
	vm.cmdline = cmdline;
	pdm_init(&pdm, &registry, &fake_host);
	ck_assert_msg(pdm_construct(&pdm, tree->root, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(vm.registrations, 1);
	free(ini);
	free(text);
}

static void setup(void)
{
	char *path;
	struct err err = { 0 };

	tmp = tu_tmpdir();
	memset(&vm, 0, sizeof(vm));
	pdm_registry_init(&registry);
	path = tu_fmt("%s/plugins/.libs/fw_cfg.so", tu_builddir());
	ck_assert_msg(pdm_registry_load(&registry, path, &err) == 0, "%s", err.msg);
	free(path);
	tree = NULL;
}

static void teardown(void)
{
	if (tree) {
		pdm_release(&pdm);
		cfg_free(tree);
	}
	pdm_registry_release(&registry);
	tu_rmtree(tmp);
	free(tmp);
}

/* Port accesses as iom makes them: to the range's handler, the device lock held. */
static void port_out(uint16_t port, uint32_t value, unsigned size)
{
	pthread_mutex_t *lock = pdm_dev_lock_of(vm.dev);

	ck_assert(port >= vm.port && port - vm.port < vm.count);
	pthread_mutex_lock(lock);
	ck_assert_int_eq(vm.out(vm.dev, vm.user, (uint16_t)(port - vm.port), value, size), 0);
	pthread_mutex_unlock(lock);
}

static uint32_t port_in(uint16_t port, unsigned size)
{
	pthread_mutex_t *lock = pdm_dev_lock_of(vm.dev);
	uint32_t value = 0xdeadbeef;

	ck_assert(port >= vm.port && port - vm.port < vm.count);
	pthread_mutex_lock(lock);
	ck_assert_int_eq(vm.in(vm.dev, vm.user, (uint16_t)(port - vm.port), &value, size), 0);
	pthread_mutex_unlock(lock);
	return value;
}

/* Selects key and reads len bytes through the data port, as a guest's inb loop does. */
static void read_item(uint16_t key, uint8_t *buf, size_t len)
{
	port_out(0x510, key, 2);
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)port_in(0x511, 1);
}

#define ASSERT_ITEM(key, ...) do { \
	static const uint8_t expected[] = { __VA_ARGS__ }; \
	uint8_t got[sizeof(expected)]; \
	read_item(key, got, sizeof(got)); \
	for (size_t i = 0; i < sizeof(expected); i++) \
		ck_assert_msg(got[i] == expected[i], "key 0x%x byte %zu: 0x%02x, expected 0x%02x", \
			      (unsigned)(key), i, got[i], expected[i]); \
} while (0)

START_TEST(it_claims_the_selector_and_data_ports)
{
	construct("", CMDLINE);
	ck_assert_uint_eq(vm.port, 0x510);
	ck_assert_uint_eq(vm.count, 2);
}
END_TEST

START_TEST(the_fixed_items_are_encoded_as_qemu_does)
{
	construct("", CMDLINE);
	/* Each followed by a 0 read past its end. */
	ASSERT_ITEM(0x00, 'Q', 'E', 'M', 'U', 0);
	ASSERT_ITEM(0x01, 1, 0, 0, 0, 0);                       /* u32 LE: traditional, no DMA */
	ASSERT_ITEM(0x03, 0, 0, 0, 6, 0, 0, 0, 0, 0);           /* u64 LE 96 MiB */
	ASSERT_ITEM(0x05, 3, 0, 0);                             /* u16 LE */
	ASSERT_ITEM(0x0f, 3, 0, 0);
	ASSERT_ITEM(0x19, 0, 0, 0, 0, 0);                       /* u32 BE count 0 */
}
END_TEST

START_TEST(the_command_line_comes_with_its_size_and_nul)
{
	uint8_t got[sizeof(CMDLINE) + 2];

	construct("", CMDLINE);
	ASSERT_ITEM(0x14, sizeof(CMDLINE), 0, 0, 0, 0);          /* strlen + 1, u32 LE */
	read_item(0x15, got, sizeof(got));
	ck_assert_mem_eq(got, CMDLINE "\0\0", sizeof(got));     /* the NUL, then past the end */
}
END_TEST

START_TEST(an_empty_command_line_is_just_the_nul)
{
	construct("", "");
	ASSERT_ITEM(0x14, 1, 0, 0, 0);
	ASSERT_ITEM(0x15, 0, 0);
}
END_TEST

START_TEST(unknown_and_arch_local_keys_read_as_zero)
{
	construct("", CMDLINE);
	ASSERT_ITEM(0x02, 0, 0, 0, 0);          /* FW_CFG_UUID: not provided */
	ASSERT_ITEM(0x20, 0, 0, 0, 0);          /* the first file slot: no files */
	ASSERT_ITEM(0x3fff, 0, 0);
	ASSERT_ITEM(0x8000, 0, 0);              /* arch-local 0 is not the signature */
	ASSERT_ITEM(0x8003, 0, 0);
}
END_TEST

START_TEST(the_write_channel_bit_reads_the_same_item)
{
	construct("", CMDLINE);
	ASSERT_ITEM(0x4000, 'Q', 'E', 'M', 'U', 0);
	ASSERT_ITEM(0x4005, 3, 0, 0);
}
END_TEST

START_TEST(selecting_restarts_the_item)
{
	construct("", CMDLINE);
	ASSERT_ITEM(0x00, 'Q', 'E');
	ASSERT_ITEM(0x00, 'Q', 'E', 'M', 'U');
	/* Past the end stays 0, however long the guest reads. */
	for (int i = 0; i < 100; i++)
		ck_assert_uint_eq(port_in(0x511, 1), 0);
	ASSERT_ITEM(0x00, 'Q');
}
END_TEST

START_TEST(data_writes_and_other_widths_change_nothing)
{
	construct("", CMDLINE);
	ASSERT_ITEM(0x00, 'Q');
	port_out(0x511, 0x55, 1);               /* the legacy write interface is gone */
	port_out(0x510, 0x05, 1);               /* a byte write does not select */
	port_out(0x510, 0x05, 4);               /* nor does a long one */
	ck_assert_uint_eq(port_in(0x511, 2), 0);        /* the data port is 8 bits wide */
	ck_assert_uint_eq(port_in(0x510, 1), 0);        /* the selector is write-only */
	/* Still the signature, where the guest left it. */
	ck_assert_uint_eq(port_in(0x511, 1), 'E');
	ASSERT_ITEM(0x00, 'Q', 'E', 'M', 'U', 0);
}
END_TEST

START_TEST(before_any_select_the_signature_is_selected)
{
	construct("", CMDLINE);
	ck_assert_uint_eq(port_in(0x511, 1), 'Q');
}
END_TEST

START_TEST(reset_selects_the_signature_again)
{
	construct("", CMDLINE);
	ASSERT_ITEM(0x03, 0, 0);
	pdm_reset(&pdm);
	ck_assert_uint_eq(port_in(0x511, 1), 'Q');
	ck_assert_uint_eq(port_in(0x511, 1), 'E');
}
END_TEST

START_TEST(iobase_moves_both_ports)
{
	construct("iobase = 0x600\n", CMDLINE);
	ck_assert_uint_eq(vm.port, 0x600);
	port_out(0x600, 0x05, 2);
	ck_assert_uint_eq(port_in(0x601, 1), 3);
}
END_TEST

static Suite *fw_cfg_suite(void)
{
	Suite *s = suite_create("fw_cfg");
	TCase *tc = tcase_create("ports");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, it_claims_the_selector_and_data_ports);
	tcase_add_test(tc, the_fixed_items_are_encoded_as_qemu_does);
	tcase_add_test(tc, the_command_line_comes_with_its_size_and_nul);
	tcase_add_test(tc, an_empty_command_line_is_just_the_nul);
	tcase_add_test(tc, unknown_and_arch_local_keys_read_as_zero);
	tcase_add_test(tc, the_write_channel_bit_reads_the_same_item);
	tcase_add_test(tc, selecting_restarts_the_item);
	tcase_add_test(tc, data_writes_and_other_widths_change_nothing);
	tcase_add_test(tc, before_any_select_the_signature_is_selected);
	tcase_add_test(tc, reset_selects_the_signature_again);
	tcase_add_test(tc, iobase_moves_both_ports);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *runner = srunner_create(fw_cfg_suite());
	int failed;

	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed ? 1 : 0;
}
