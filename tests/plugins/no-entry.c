/* tests/plugins/no-entry.c - a module with the ABI word but no entry point. */
#include <modvm/pdm.h>

PDM_MODULE_DECLARE();
