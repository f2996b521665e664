/* tests/plugins/dup-type.c - registers a device type named like the recorder's. */
#include <modvm/device.h>

static int dup_construct(struct pdm_dev_ins *dev)
{
	return 0;
}

static const struct pdm_dev_reg dup_reg = {
	.abi_version = PDM_ABI_VERSION,
	.size = sizeof(struct pdm_dev_reg),
	.name = "trec",
	.description = "clashes with the recorder",
	.construct = dup_construct,
};

PDM_MODULE_DECLARE();

PDM_EXPORT int pdm_module_register(const struct pdm_reg_callbacks *cb, uint32_t core_abi)
{
	return cb->register_device(cb, &dup_reg);
}
