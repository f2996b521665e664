/*
 * modvm/config.h - the config schema a device or driver declares.
 *
 * Each registration record points at an array of struct pdm_cfg_key ending with an
 * entry whose name is NULL. Before a constructor runs, the core checks the instance's
 * INI section against it: an unknown key, a value of the wrong type or out of range,
 * or a missing required key is reported with file:line and the key path, and the
 * constructor is never called. The constructor then reads values through the helper
 * table's cfg_get_* calls, which apply the declared defaults.
 *
 * Keys are case-insensitive (the INI reader folds them to lower case): declare them in
 * lower case.
 */
#ifndef MODVM_CONFIG_H
#define MODVM_CONFIG_H

#include <stdint.h>

enum pdm_cfg_type {
	PDM_CFG_INVALID = 0,
	PDM_CFG_INT,      /* signed 64-bit; decimal, 0x hex, 0 octal; suffix K, M, G (x1024) */
	PDM_CFG_BOOL,     /* yes/no, true/false, on/off, 1/0 */
	PDM_CFG_STRING,   /* any text */
	PDM_CFG_PATH,     /* a file name; a relative one is taken from the INI file's folder */
};

/* Flags of a key. */
#define PDM_CFG_F_REQUIRED 0x1u   /* the key must be set; def is ignored */

struct pdm_cfg_key {
	const char *name;          /* lower case; NULL ends the array */
	enum pdm_cfg_type type;
	const char *def;           /* default as text, parsed like a value; NULL: none */
	int64_t min, max;          /* PDM_CFG_INT only; checked when min < max */
	uint32_t flags;            /* PDM_CFG_F_* */
	const char *help;          /* one line, shown by `modvm plugins` */
};

/* Name of a type, for messages and listings. */
static inline const char *pdm_cfg_type_name(enum pdm_cfg_type type)
{
	switch (type) {
	case PDM_CFG_INT: return "integer";
	case PDM_CFG_BOOL: return "boolean";
	case PDM_CFG_STRING: return "string";
	case PDM_CFG_PATH: return "path";
	case PDM_CFG_INVALID: break;
	}
	return "invalid";
}

#endif
