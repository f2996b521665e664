/*
 * config/config.h - the configuration tree: INI files (iniparser underneath) and
 * command-line overrides, typed queries, and checks against declared schemas.
 *
 * INI sections are node paths ("devices/serial/0/lun0"); their keys are the node's
 * values. Every node and value remembers where it came from (file and line, or
 * "-o" for an override) so that every message can name it. iniparser folds section
 * and key names to lower case, and so does everything here: lookups are
 * case-insensitive. iniparser keeps no line numbers, so cfg_load reads the file a
 * second time only to index the line of each section and key.
 *
 * Problems found while loading or checking are collected in a struct cfg_diag, one
 * line each, formatted "<file>:<line>: <path>[/<key>]: <what was expected>", so that
 * `modvm check` can report all of them, not just the first.
 */
#ifndef CONFIG_CONFIG_H
#define CONFIG_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include <modvm/config.h>
#include "util/err.h"

struct cfg_tree;

struct cfg_value {
	char *key;                  /* lower case */
	char *text;                 /* as written, quotes removed by iniparser */
	const char *origin;         /* the file name (tree->file) or "-o" */
	int line;                   /* 1-based; 0 for overrides */
	bool is_used;               /* claimed by cfg_check_schema or a getter */
	char *resolved;             /* cfg_get_path's result, owned here */
	struct cfg_value *next;     /* file order */
};

struct cfg_node {
	char *name;                 /* last component of the path; "" for the root */
	char *path;                 /* "devices/serial/0"; "" for the root */
	const char *origin;         /* where the section header is, if any */
	int line;                   /* line of the [section] header; 0 if implicit */
	bool is_claimed;            /* some code took responsibility for this section */
	struct cfg_tree *tree;
	struct cfg_node *parent;
	struct cfg_node *first_child;    /* children in file order */
	struct cfg_node *next_sibling;
	struct cfg_value *values;        /* file order */
};

struct cfg_tree {
	struct cfg_node *root;
	char *file;                 /* the INI file as given (NULL for cfg_new) */
	char *dir;                  /* its folder, base of relative paths */
};

struct cfg_diag {
	int count;
	char **lines;               /* count messages, each malloc'ed */
};

void cfg_diag_init(struct cfg_diag *diag);
void cfg_diag_release(struct cfg_diag *diag);
/* Adds "<origin>:<line>: <path>: <message>" (":<line>" left out when line is 0, "<path>: " when path is NULL). */
void cfg_diag_add(struct cfg_diag *diag, const char *origin, int line, const char *path,
		  const char *fmt, ...) PDM_PRINTF(5, 6);

/*
 * Loads an INI file. Syntax errors, keys outside any section and keys set twice in one
 * section are added to diag. Returns 0 with *tree set, or PDM_ERR_CFG (problems in
 * diag; *tree still set when the file could be read, so checking can go on) or
 * PDM_ERR_IO (file unreadable; diag says why, *tree NULL).
 */
int cfg_load(const char *file, struct cfg_tree **tree, struct cfg_diag *diag);
/* An empty tree whose relative paths are taken from dir (NULL: the current folder). */
struct cfg_tree *cfg_new(const char *dir);
void cfg_free(struct cfg_tree *tree);

/*
 * Sets path/key to text, creating the nodes on the way; replaces an existing value
 * (and its origin/line). Returns 0 or PDM_ERR_NO_MEMORY / PDM_ERR_INVALID_ARG (empty
 * key, or a path component that is empty).
 */
int cfg_set(struct cfg_tree *tree, const char *path, const char *key, const char *text,
	    const char *origin, int line);
/*
 * Applies a command-line override "path/key=value" (e.g. "devices/serial/0/iobase=0x2f8",
 * "vm/memory=64M"). A malformed spec is added to diag and PDM_ERR_CFG returned.
 */
int cfg_override(struct cfg_tree *tree, const char *spec, struct cfg_diag *diag);

/* Finds a node by a path relative to from ("" or NULL: from itself). NULL if absent. */
struct cfg_node *cfg_find(struct cfg_node *from, const char *relpath);
struct cfg_node *cfg_child(struct cfg_node *node, const char *name);
struct cfg_value *cfg_value_find(struct cfg_node *node, const char *key);

/* Value parsing shared by checks and getters: 0, or PDM_ERR_CFG when text is not one. */
int cfg_parse_int(const char *text, int64_t *value);      /* dec/0x hex/0 octal, K/M/G suffix */
int cfg_parse_bool(const char *text, bool *value);        /* yes/no true/false on/off 1/0 */

/* The entry of schema named key, or NULL. schema may be NULL (no keys). */
const struct pdm_cfg_key *cfg_schema_find(const struct pdm_cfg_key *schema, const char *key);
/*
 * Checks a schema itself (plugin registration): names present, lower case and unique,
 * types valid, defaults parse and lie in range. Returns 0 or PDM_ERR_ABI with err
 * naming the key.
 */
int cfg_schema_validate(const struct pdm_cfg_key *schema, struct err *err);

/*
 * Checks every value of node against schema: keys neither in schema nor in
 * extra_keys (NULL-terminated, may be NULL) are unknown; values must parse as their
 * type and lie in range; required keys must be set. Marks the node claimed and its
 * schema keys used. owner names the checker in messages ("device 'serial'"). Every
 * problem goes to diag; returns 0 or PDM_ERR_CFG.
 */
int cfg_check_schema(struct cfg_node *node, const struct pdm_cfg_key *schema,
		     const char *const *extra_keys, const char *owner, struct cfg_diag *diag);

/*
 * Typed reads with the schema's default applied. key must be in schema (else
 * PDM_ERR_INVALID_ARG with err naming it: a programming error). An optional key with
 * neither value nor default gives PDM_ERR_CFG_MISSING. A value that does not parse
 * or is out of range gives PDM_ERR_CFG with err "<file>:<line>: <path>/<key>: ...".
 * Strings stay valid until cfg_free. cfg_get_path resolves a relative path against
 * tree->dir.
 */
int cfg_get_int(struct cfg_node *node, const struct pdm_cfg_key *schema, const char *key,
		int64_t *value, struct err *err);
int cfg_get_bool(struct cfg_node *node, const struct pdm_cfg_key *schema, const char *key,
		 bool *value, struct err *err);
int cfg_get_string(struct cfg_node *node, const struct pdm_cfg_key *schema, const char *key,
		   const char **value, struct err *err);
int cfg_get_path(struct cfg_node *node, const struct pdm_cfg_key *schema, const char *key,
		 const char **value, struct err *err);

/* Marks a node as taken care of by its reader (so it is not an unknown section). */
void cfg_claim(struct cfg_node *node);
/*
 * Reports, for the whole tree, every section written in a file or override that no
 * code claimed ("unknown section"). Returns the number reported.
 */
int cfg_report_unclaimed(struct cfg_tree *tree, struct cfg_diag *diag);

#endif
