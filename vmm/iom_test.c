/*
 * vmm/iom_test.c - the I/O dispatcher alone, without KVM: claiming and refusing
 * ranges, lookups, widths, accesses that run past a range, unclaimed accesses.
 */
#include <check.h>
#include <string.h>

#include "vmm/iom.h"

static struct iom iom;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct pdm_dev_ins dev_a = { .name = "a#0" }, dev_b = { .name = "b#0" };

/* What a handler saw, per device. */
struct seen {
	unsigned calls;
	uint16_t offset;
	unsigned size;
	uint32_t value;
};
static struct seen seen_a, seen_b;

static int rec_in(struct pdm_dev_ins *dev, void *user, uint16_t offset, uint32_t *value,
		  unsigned size)
{
	struct seen *seen = user;

	seen->calls++;
	seen->offset = offset;
	seen->size = size;
	*value = 0x44332211u;
	return 0;
}

static int rec_out(struct pdm_dev_ins *dev, void *user, uint16_t offset, uint32_t value,
		   unsigned size)
{
	struct seen *seen = user;

	seen->calls++;
	seen->offset = offset;
	seen->size = size;
	seen->value = value;
	return 0;
}

static int failing_in(struct pdm_dev_ins *dev, void *user, uint16_t offset, uint32_t *value,
		      unsigned size)
{
	*value = 0;
	return PDM_ERR_IO;
}

static void setup(void)
{
	iom_init(&iom);
	memset(&seen_a, 0, sizeof(seen_a));
	memset(&seen_b, 0, sizeof(seen_b));
}

static void teardown(void)
{
	iom_release(&iom);
}

START_TEST(port_ranges_past_0xffff_are_refused)
{
	struct err err = { 0 };

	ck_assert_int_eq(iom_register_pio(&iom, &dev_a, &lock, 0x10, 0xffffffffu, &seen_a, rec_in,
					  rec_out, "a", &err), PDM_ERR_INVALID_ARG);
	ck_assert_int_eq(iom_register_pio(&iom, &dev_a, &lock, 0xfff0, 0x11, &seen_a, rec_in,
					  rec_out, "a", &err), PDM_ERR_INVALID_ARG);
	ck_assert_int_eq(iom_register_pio(&iom, &dev_a, &lock, 0x10, 0, &seen_a, rec_in,
					  rec_out, "a", &err), PDM_ERR_INVALID_ARG);
	/* Nothing was claimed by the refused calls. */
	ck_assert_int_eq(iom_register_pio(&iom, &dev_a, &lock, 0x10, 1, &seen_a, rec_in, rec_out,
					  "a", &err), 0);
	ck_assert_int_eq(iom_register_pio(&iom, &dev_b, &lock, 0xfff0, 0x10, &seen_b, rec_in,
					  rec_out, "b", &err), 0);
}
END_TEST

START_TEST(overlapping_ports_name_the_owner)
{
	struct err err = { 0 };

	ck_assert_int_eq(iom_register_pio(&iom, &dev_a, &lock, 0x3f8, 8, &seen_a, rec_in, rec_out,
					  "uart", &err), 0);
	ck_assert_int_eq(iom_register_pio(&iom, &dev_b, &lock, 0x3fc, 8, &seen_b, rec_in, rec_out,
					  "b", &err), PDM_ERR_DUPLICATE);
	ck_assert_msg(strstr(err.msg, "0x3fc") && strstr(err.msg, "'a#0'") &&
		      strstr(err.msg, "uart"), "%s", err.msg);
}
END_TEST

START_TEST(accesses_reach_their_handler_with_offset_and_width)
{
	struct err err = { 0 };
	uint8_t data[4];

	ck_assert_int_eq(iom_register_pio(&iom, &dev_a, &lock, 0x500, 8, &seen_a, rec_in, rec_out,
					  "a", &err), 0);
	memcpy(data, "\x78\x56\x34\x12", 4);
	iom_dispatch_pio(&iom, 0x502, true, data, 4);
	ck_assert_uint_eq(seen_a.calls, 1);
	ck_assert_uint_eq(seen_a.offset, 2);
	ck_assert_uint_eq(seen_a.size, 4);
	ck_assert_uint_eq(seen_a.value, 0x12345678u);
	iom_dispatch_pio(&iom, 0x500, false, data, 2);
	ck_assert_uint_eq(data[0], 0x11);
	ck_assert_uint_eq(data[1], 0x22);
	ck_assert_uint_eq(data[2], 0x34);       /* untouched beyond the width */
}
END_TEST

START_TEST(wide_access_past_a_range_goes_out_byte_by_byte)
{
	struct err err = { 0 };
	uint8_t data[4];

	ck_assert_int_eq(iom_register_pio(&iom, &dev_a, &lock, 0x600, 1, &seen_a, rec_in, rec_out,
					  "a", &err), 0);
	ck_assert_int_eq(iom_register_pio(&iom, &dev_b, &lock, 0x601, 1, &seen_b, rec_in, rec_out,
					  "b", &err), 0);
	memcpy(data, "\xaa\xbb\xcc\xdd", 4);
	iom_dispatch_pio(&iom, 0x600, true, data, 4);
	/* Each device sees one byte at offset 0; the two unclaimed ports are counted. */
	ck_assert_uint_eq(seen_a.calls, 1);
	ck_assert_uint_eq(seen_a.size, 1);
	ck_assert_uint_eq(seen_a.offset, 0);
	ck_assert_uint_eq(seen_a.value, 0xaa);
	ck_assert_uint_eq(seen_b.calls, 1);
	ck_assert_uint_eq(seen_b.value, 0xbb);
	ck_assert_uint_eq(iom.stats.unhandled_pio, 2);
	iom_dispatch_pio(&iom, 0x600, false, data, 4);
	ck_assert_uint_eq(data[0], 0x11);
	ck_assert_uint_eq(data[1], 0x11);
	ck_assert_uint_eq(data[2], 0xff);
	ck_assert_uint_eq(data[3], 0xff);
}
END_TEST

START_TEST(unclaimed_and_failed_reads_are_all_ones_and_counted)
{
	struct err err = { 0 };
	uint8_t data[8];

	memset(data, 0, sizeof(data));
	iom_dispatch_pio(&iom, 0x80, false, data, 4);
	ck_assert_uint_eq(data[0] & data[1] & data[2] & data[3], 0xff);
	iom_dispatch_pio(&iom, 0x80, true, data, 1);
	ck_assert_uint_eq(iom.stats.unhandled_pio, 2);
	memset(data, 0, sizeof(data));
	iom_dispatch_mmio(&iom, 0xd0000000, false, data, 8);
	for (int i = 0; i < 8; i++)
		ck_assert_uint_eq(data[i], 0xff);
	ck_assert_uint_eq(iom.stats.unhandled_mmio, 1);
	ck_assert_int_eq(iom_register_pio(&iom, &dev_a, &lock, 0x90, 1, &seen_a, failing_in, NULL,
					  "a", &err), 0);
	memset(data, 0, sizeof(data));
	iom_dispatch_pio(&iom, 0x90, false, data, 1);
	ck_assert_uint_eq(data[0], 0xff);
	ck_assert_uint_eq(iom.stats.handler_errors, 1);
	iom_dispatch_pio(&iom, 0x90, true, data, 1);    /* no out handler: unclaimed */
	ck_assert_uint_eq(iom.stats.unhandled_pio, 3);
}
END_TEST

static int mmio_read(struct pdm_dev_ins *dev, void *user, uint64_t offset, void *buf, unsigned len)
{
	memset(buf, (int)(0x10 + offset), len);
	return 0;
}

START_TEST(mmio_ranges_are_found_by_binary_search_and_checked_for_overlap)
{
	struct err err = { 0 };
	uint8_t data[4];

	/* Registered out of order, to exercise the sorted insert. */
	for (uint64_t base = 0xd0008000; base >= 0xd0000000; base -= 0x1000)
		ck_assert_int_eq(iom_register_mmio(&iom, &dev_a, &lock, base, 0x1000, NULL,
						   mmio_read, NULL, "page", &err), 0);
	ck_assert_int_eq(iom_register_mmio(&iom, &dev_b, &lock, 0xd0003800, 0x1000, NULL,
					   mmio_read, NULL, "b", &err), PDM_ERR_DUPLICATE);
	ck_assert_msg(strstr(err.msg, "'a#0'"), "%s", err.msg);
	iom_dispatch_mmio(&iom, 0xd0005004, false, data, 4);
	ck_assert_uint_eq(data[0], 0x14);
	/* Straddling the end of a page: not the device's; all-ones. */
	iom_dispatch_mmio(&iom, 0xd0008ffe, false, data, 4);
	ck_assert_uint_eq(data[0], 0xff);
	ck_assert_uint_eq(iom.stats.unhandled_mmio, 1);
}
END_TEST

static Suite *iom_suite(void)
{
	Suite *s = suite_create("iom");
	TCase *tc = tcase_create("dispatch");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, port_ranges_past_0xffff_are_refused);
	tcase_add_test(tc, overlapping_ports_name_the_owner);
	tcase_add_test(tc, accesses_reach_their_handler_with_offset_and_width);
	tcase_add_test(tc, wide_access_past_a_range_goes_out_byte_by_byte);
	tcase_add_test(tc, unclaimed_and_failed_reads_are_all_ones_and_counted);
	tcase_add_test(tc, mmio_ranges_are_found_by_binary_search_and_checked_for_overlap);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *runner = srunner_create(iom_suite());
	int failed;

	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed ? 1 : 0;
}
