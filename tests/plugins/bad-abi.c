/* tests/plugins/bad-abi.c - a module built for a future ABI major: must be refused unrun. */
#include <stdlib.h>

#include <modvm/pdm.h>

PDM_EXPORT extern const uint32_t pdm_module_abi_version;
const uint32_t pdm_module_abi_version = PDM_ABI_MAKE(PDM_ABI_MAJOR + 1, 0);

/* If the loader ran any code of this module, the test process would die here. */
__attribute__((constructor)) static void bad_abi_init(void)
{
	abort();
}

PDM_EXPORT int pdm_module_register(const struct pdm_reg_callbacks *cb, uint32_t core_abi)
{
	abort();
}
