/*
 * sdk/abi_test.c - pins the plugin ABI: the size and every member offset of each
 * public struct, and the values of the public enums and constants.
 *
 * A plugin built against an earlier minor must keep working, so nothing here may
 * change; records and helper tables may only grow at their end (then add the new
 * members below and bump PDM_ABI_MINOR). A failure here is an ABI break, not a test
 * to update.
 */
#include <check.h>
#include <stddef.h>

#include <modvm/char.h>
#include <modvm/device.h>
#include <modvm/driver.h>

#define SIZE(type, expected) \
	ck_assert_msg(sizeof(type) == (expected), "sizeof(" #type ") is %zu, pinned at %d", \
		      sizeof(type), (expected))
#define OFF(type, member, expected) \
	ck_assert_msg(offsetof(type, member) == (expected), \
		      #type "." #member " is at %zu, pinned at %d", offsetof(type, member), (expected))

START_TEST(pdm_dev_reg_layout_is_pinned)
{
	SIZE(struct pdm_dev_reg, 128);
	OFF(struct pdm_dev_reg, abi_version, 0);
	OFF(struct pdm_dev_reg, size, 4);
	OFF(struct pdm_dev_reg, name, 8);
	OFF(struct pdm_dev_reg, description, 16);
	OFF(struct pdm_dev_reg, flags, 24);
	OFF(struct pdm_dev_reg, max_instances, 28);
	OFF(struct pdm_dev_reg, instance_size, 32);
	OFF(struct pdm_dev_reg, config, 40);
	OFF(struct pdm_dev_reg, construct, 48);
	OFF(struct pdm_dev_reg, destruct, 56);
	OFF(struct pdm_dev_reg, power_on, 64);
	OFF(struct pdm_dev_reg, reset, 72);
	OFF(struct pdm_dev_reg, suspend, 80);
	OFF(struct pdm_dev_reg, resume, 88);
	OFF(struct pdm_dev_reg, power_off, 96);
	OFF(struct pdm_dev_reg, attach, 104);
	OFF(struct pdm_dev_reg, detach, 112);
	OFF(struct pdm_dev_reg, query_interface, 120);
}
END_TEST

START_TEST(pdm_drv_reg_layout_is_pinned)
{
	SIZE(struct pdm_drv_reg, 128);
	OFF(struct pdm_drv_reg, abi_version, 0);
	OFF(struct pdm_drv_reg, size, 4);
	OFF(struct pdm_drv_reg, name, 8);
	OFF(struct pdm_drv_reg, description, 16);
	OFF(struct pdm_drv_reg, flags, 24);
	OFF(struct pdm_drv_reg, max_instances, 28);
	OFF(struct pdm_drv_reg, instance_size, 32);
	OFF(struct pdm_drv_reg, config, 40);
	OFF(struct pdm_drv_reg, construct, 48);
	OFF(struct pdm_drv_reg, destruct, 56);
	OFF(struct pdm_drv_reg, power_on, 64);
	OFF(struct pdm_drv_reg, reset, 72);
	OFF(struct pdm_drv_reg, suspend, 80);
	OFF(struct pdm_drv_reg, resume, 88);
	OFF(struct pdm_drv_reg, power_off, 96);
	OFF(struct pdm_drv_reg, attach, 104);
	OFF(struct pdm_drv_reg, detach, 112);
	OFF(struct pdm_drv_reg, query_interface, 120);
}
END_TEST

START_TEST(pdm_dev_ins_layout_is_pinned)
{
	SIZE(struct pdm_dev_ins, 48);
	OFF(struct pdm_dev_ins, version, 0);
	OFF(struct pdm_dev_ins, size, 4);
	OFF(struct pdm_dev_ins, hlp, 8);
	OFF(struct pdm_dev_ins, reg, 16);
	OFF(struct pdm_dev_ins, name, 24);
	OFF(struct pdm_dev_ins, instance, 32);
	OFF(struct pdm_dev_ins, data, 40);
}
END_TEST

START_TEST(pdm_drv_ins_layout_is_pinned)
{
	SIZE(struct pdm_drv_ins, 56);
	OFF(struct pdm_drv_ins, version, 0);
	OFF(struct pdm_drv_ins, size, 4);
	OFF(struct pdm_drv_ins, hlp, 8);
	OFF(struct pdm_drv_ins, reg, 16);
	OFF(struct pdm_drv_ins, name, 24);
	OFF(struct pdm_drv_ins, instance, 32);
	OFF(struct pdm_drv_ins, data, 40);
	OFF(struct pdm_drv_ins, above, 48);
}
END_TEST

START_TEST(pdm_dev_hlp_layout_is_pinned)
{
	SIZE(struct pdm_dev_hlp, 200);
	OFF(struct pdm_dev_hlp, version, 0);
	OFF(struct pdm_dev_hlp, size, 4);
	OFF(struct pdm_dev_hlp, error, 8);
	OFF(struct pdm_dev_hlp, log, 16);
	OFF(struct pdm_dev_hlp, cfg_get_int, 24);
	OFF(struct pdm_dev_hlp, cfg_get_bool, 32);
	OFF(struct pdm_dev_hlp, cfg_get_string, 40);
	OFF(struct pdm_dev_hlp, cfg_get_path, 48);
	OFF(struct pdm_dev_hlp, ioport_register, 56);
	OFF(struct pdm_dev_hlp, mmio_register, 64);
	OFF(struct pdm_dev_hlp, irq_set, 72);
	OFF(struct pdm_dev_hlp, phys_read, 80);
	OFF(struct pdm_dev_hlp, phys_write, 88);
	OFF(struct pdm_dev_hlp, lock, 96);
	OFF(struct pdm_dev_hlp, unlock, 104);
	OFF(struct pdm_dev_hlp, driver_attach, 112);
	OFF(struct pdm_dev_hlp, thread_create, 120);
	OFF(struct pdm_dev_hlp, thread_is_running, 128);
	OFF(struct pdm_dev_hlp, vm_state, 136);
	OFF(struct pdm_dev_hlp, vm_request_poweroff, 144);
	/* ABI 1.1 */
	OFF(struct pdm_dev_hlp, set_async_notification, 152);
	OFF(struct pdm_dev_hlp, async_notification_completed, 160);
	OFF(struct pdm_dev_hlp, vm_request_reset, 168);
	OFF(struct pdm_dev_hlp, vm_request_suspend, 176);
	OFF(struct pdm_dev_hlp, runtime_error, 184);
	/* ABI 1.2 */
	OFF(struct pdm_dev_hlp, machine_info, 192);
}
END_TEST

START_TEST(pdm_drv_hlp_layout_is_pinned)
{
	SIZE(struct pdm_drv_hlp, 128);
	OFF(struct pdm_drv_hlp, version, 0);
	OFF(struct pdm_drv_hlp, size, 4);
	OFF(struct pdm_drv_hlp, error, 8);
	OFF(struct pdm_drv_hlp, log, 16);
	OFF(struct pdm_drv_hlp, cfg_get_int, 24);
	OFF(struct pdm_drv_hlp, cfg_get_bool, 32);
	OFF(struct pdm_drv_hlp, cfg_get_string, 40);
	OFF(struct pdm_drv_hlp, cfg_get_path, 48);
	OFF(struct pdm_drv_hlp, attach, 56);
	OFF(struct pdm_drv_hlp, thread_create, 64);
	OFF(struct pdm_drv_hlp, thread_is_running, 72);
	OFF(struct pdm_drv_hlp, vm_state, 80);
	/* ABI 1.1 */
	OFF(struct pdm_drv_hlp, set_async_notification, 88);
	OFF(struct pdm_drv_hlp, async_notification_completed, 96);
	OFF(struct pdm_drv_hlp, runtime_error, 104);
	/* ABI 1.2 */
	OFF(struct pdm_drv_hlp, vm_request_poweroff, 112);
	OFF(struct pdm_drv_hlp, vm_request_reset, 120);
}
END_TEST

START_TEST(pdm_machine_info_layout_is_pinned)
{
	/* ABI 1.2 */
	SIZE(struct pdm_machine_info, 48);
	OFF(struct pdm_machine_info, version, 0);
	OFF(struct pdm_machine_info, size, 4);
	OFF(struct pdm_machine_info, cpus, 8);
	OFF(struct pdm_machine_info, reserved, 12);
	OFF(struct pdm_machine_info, ram_size, 16);
	OFF(struct pdm_machine_info, cmdline, 24);
	OFF(struct pdm_machine_info, vm_name, 32);
	OFF(struct pdm_machine_info, start_time_ns, 40);
}
END_TEST

START_TEST(pdm_machine_info_init_sets_version_and_size)
{
	struct pdm_machine_info info = PDM_MACHINE_INFO_INIT;

	ck_assert_uint_eq(info.version, PDM_ABI_VERSION);
	ck_assert_uint_eq(info.size, sizeof(info));
	ck_assert_uint_eq(info.cpus, 0);
	ck_assert_ptr_null(info.cmdline);
}
END_TEST

START_TEST(pdm_reg_callbacks_layout_is_pinned)
{
	SIZE(struct pdm_reg_callbacks, 24);
	OFF(struct pdm_reg_callbacks, version, 0);
	OFF(struct pdm_reg_callbacks, size, 4);
	OFF(struct pdm_reg_callbacks, register_device, 8);
	OFF(struct pdm_reg_callbacks, register_driver, 16);
}
END_TEST

START_TEST(pdm_cfg_key_layout_is_pinned)
{
	SIZE(struct pdm_cfg_key, 56);
	OFF(struct pdm_cfg_key, name, 0);
	OFF(struct pdm_cfg_key, type, 8);
	OFF(struct pdm_cfg_key, def, 16);
	OFF(struct pdm_cfg_key, min, 24);
	OFF(struct pdm_cfg_key, max, 32);
	OFF(struct pdm_cfg_key, flags, 40);
	OFF(struct pdm_cfg_key, help, 48);
}
END_TEST

START_TEST(pdm_ibase_layout_is_pinned)
{
	SIZE(struct pdm_ibase, 8);
	OFF(struct pdm_ibase, query_interface, 0);
}
END_TEST

START_TEST(pdm_ichar_port_layout_is_pinned)
{
	SIZE(struct pdm_ichar_port, 8);
	OFF(struct pdm_ichar_port, data_available, 0);
}
END_TEST

START_TEST(pdm_ichar_connector_layout_is_pinned)
{
	SIZE(struct pdm_ichar_connector, 16);
	OFF(struct pdm_ichar_connector, write, 0);
	OFF(struct pdm_ichar_connector, read, 8);
}
END_TEST

START_TEST(pdm_istream_layout_is_pinned)
{
	SIZE(struct pdm_istream, 32);
	OFF(struct pdm_istream, read, 0);
	OFF(struct pdm_istream, write, 8);
	OFF(struct pdm_istream, poll, 16);
	OFF(struct pdm_istream, interrupt, 24);
}
END_TEST

START_TEST(abi_version_is_1_2)
{
	ck_assert_uint_eq(PDM_ABI_MAJOR, 1);
	ck_assert_uint_eq(PDM_ABI_MINOR, 2);
	ck_assert_uint_eq(PDM_ABI_VERSION, 0x10002);
}
END_TEST

START_TEST(status_codes_keep_their_values)
{
	static const int codes[] = {
		PDM_OK, PDM_ERR_GENERIC, PDM_ERR_NO_MEMORY, PDM_ERR_INVALID_ARG,
		PDM_ERR_NOT_FOUND, PDM_ERR_ABI, PDM_ERR_NO_ENTRY, PDM_ERR_CFG,
		PDM_ERR_CFG_MISSING, PDM_ERR_NO_DRIVER, PDM_ERR_NO_INTERFACE, PDM_ERR_IO,
		PDM_ERR_EOF, PDM_ERR_BUSY, PDM_ERR_STATE, PDM_ERR_TOO_MANY, PDM_ERR_DUPLICATE,
		PDM_ERR_NOT_SUPPORTED, PDM_ERR_TIMEOUT, PDM_ERR_INTERRUPTED, PDM_ERR_KVM,
		PDM_ERR_GUEST, PDM_ERR_CONSTRUCT,
	};

	for (int i = 0; i < (int)(sizeof(codes) / sizeof(codes[0])); i++) {
		ck_assert_int_eq(codes[i], -i);
		ck_assert_str_ne(pdm_status_message(codes[i]), "unknown status");
	}
}
END_TEST

START_TEST(enums_keep_their_values)
{
	ck_assert_int_eq(PDM_VM_INVALID, 0);
	ck_assert_int_eq(PDM_VM_CREATING, 1);
	ck_assert_int_eq(PDM_VM_RUNNING, 5);
	ck_assert_int_eq(PDM_VM_SUSPENDED, 7);
	ck_assert_int_eq(PDM_VM_OFF, 12);
	ck_assert_int_eq(PDM_VM_TERMINATED, 14);
	ck_assert_int_eq(PDM_VM_LOAD_FAILURE, 17);
	ck_assert_int_eq(PDM_LOG_ERROR, 1);
	ck_assert_int_eq(PDM_LOG_DEBUG, 4);
	ck_assert_int_eq(PDM_RTERR_WARNING, 1);
	ck_assert_int_eq(PDM_RTERR_SUSPEND, 2);
	ck_assert_int_eq(PDM_RTERR_FATAL, 3);
	ck_assert_int_eq(PDM_CFG_INT, 1);
	ck_assert_int_eq(PDM_CFG_BOOL, 2);
	ck_assert_int_eq(PDM_CFG_STRING, 3);
	ck_assert_int_eq(PDM_CFG_PATH, 4);
	ck_assert_uint_eq(PDM_CFG_F_REQUIRED, 1);
	ck_assert_uint_eq(PDM_DEVREG_F_NOTIFY_FIRST, 1);
	ck_assert_uint_eq(PDM_STREAM_READABLE, 1);
	ck_assert_uint_eq(PDM_STREAM_WRITABLE, 2);
}
END_TEST

START_TEST(interface_ids_keep_their_names)
{
	ck_assert_str_eq(PDM_IBASE_IID, "modvm.ibase.v1");
	ck_assert_str_eq(PDM_ICHAR_PORT_IID, "modvm.ichar-port.v1");
	ck_assert_str_eq(PDM_ICHAR_CONNECTOR_IID, "modvm.ichar-connector.v1");
	ck_assert_str_eq(PDM_ISTREAM_IID, "modvm.istream.v1");
}
END_TEST

static Suite *abi_suite(void)
{
	Suite *s = suite_create("abi");
	TCase *tc = tcase_create("layout");

	tcase_add_test(tc, pdm_dev_reg_layout_is_pinned);
	tcase_add_test(tc, pdm_drv_reg_layout_is_pinned);
	tcase_add_test(tc, pdm_dev_ins_layout_is_pinned);
	tcase_add_test(tc, pdm_drv_ins_layout_is_pinned);
	tcase_add_test(tc, pdm_dev_hlp_layout_is_pinned);
	tcase_add_test(tc, pdm_drv_hlp_layout_is_pinned);
	tcase_add_test(tc, pdm_machine_info_layout_is_pinned);
	tcase_add_test(tc, pdm_machine_info_init_sets_version_and_size);
	tcase_add_test(tc, pdm_reg_callbacks_layout_is_pinned);
	tcase_add_test(tc, pdm_cfg_key_layout_is_pinned);
	tcase_add_test(tc, pdm_ibase_layout_is_pinned);
	tcase_add_test(tc, pdm_ichar_port_layout_is_pinned);
	tcase_add_test(tc, pdm_ichar_connector_layout_is_pinned);
	tcase_add_test(tc, pdm_istream_layout_is_pinned);
	tcase_add_test(tc, abi_version_is_1_2);
	tcase_add_test(tc, status_codes_keep_their_values);
	tcase_add_test(tc, enums_keep_their_values);
	tcase_add_test(tc, interface_ids_keep_their_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *runner = srunner_create(abi_suite());
	int failed;

	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed ? 1 : 0;
}
