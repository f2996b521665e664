/*
 * tests/plugins/minor.c - a module declaring ABI 1.MINOR, MINOR set at build time:
 * built as minor-old.so (1.0: must load on a newer core, its records read as if the
 * newer members were absent) and minor-new.so (one minor past the core: refused).
 */
#include <modvm/device.h>

static int minor_construct(struct pdm_dev_ins *dev)
{
	return 0;
}

static const struct pdm_dev_reg minor_reg = {
	.abi_version = PDM_ABI_MAKE(PDM_ABI_MAJOR, MINOR),
	.size = sizeof(struct pdm_dev_reg),
	.name = "minor",
	.description = "declares an older or newer ABI minor",
	.construct = minor_construct,
};

PDM_EXPORT extern const uint32_t pdm_module_abi_version;
const uint32_t pdm_module_abi_version = PDM_ABI_MAKE(PDM_ABI_MAJOR, MINOR);

PDM_EXPORT int pdm_module_register(const struct pdm_reg_callbacks *cb, uint32_t core_abi)
{
	return cb->register_device(cb, &minor_reg);
}
