/*
 * config/config.c - the configuration tree: INI files (iniparser underneath),
 * command-line overrides, typed queries and schema checks. The contract is in
 * config.h.
 *
 * iniparser 4.1 gives us values but no line numbers, and it throws the whole file
 * away at the first syntax error or over-long line. So cfg_load also walks the text
 * itself, with the same line rules as iniparser (a mirror of its read loop), to know
 * where each section and key is, and after a rejected file it lets iniparser parse a
 * copy with the bad lines blanked out, so that one run reports every problem.
 */

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iniparser/iniparser.h>

#include "config/config.h"

/* iniparser's line buffer (ASCIILINESZ); a longer line makes it give up. */
#define INI_LINE_SIZE 1024
/* No INI file is this large; the cap keeps a FIFO or /dev/zero from eating memory. */
#define CFG_MAX_FILE_SIZE (64u << 20)
/* Re-parses after a rejected file; one is enough unless we misread iniparser. */
#define INI_MAX_PASSES 8
/* Room for a quoted value or line in a message. */
#define SHOWN_SIZE 96

static const char cfg_origin_override[] = "-o";

/* ------------------------------------------------------------------------ */
/* Helpers */

/* Folds names like iniparser does (tolower of each byte). */
static void str_lower(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

/* Control bytes in a message become '?': binary junk must not reach a terminal. */
static void str_sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* A copy of text for a message, cut with "..." when it is long. */
static const char *shown(char *buf, size_t size, const char *text)
{
	size_t len = strlen(text);

	snprintf(buf, size, "%s", text);
	if (len >= size && size > 4)
		memcpy(buf + size - 4, "...", 4);
	return buf;
}

/* "<path>/<key>", or key alone for the root; malloc'ed (NULL if out of memory). */
static char *path_join(const char *path, const char *key)
{
	char *s;

	if (!path || !*path)
		return strdup(key);
	if (asprintf(&s, "%s/%s", path, key) < 0)
		return NULL;
	return s;
}

/* "<origin>:<line>: <path>: ", leaving out what is missing; malloc'ed. */
static char *where_format(const char *origin, int line, const char *path)
{
	char num[16] = "";
	char *s;

	if (origin && line > 0)
		snprintf(num, sizeof(num), ":%d", line);
	if (asprintf(&s, "%s%s%s%s%s", origin ? origin : "", num, origin ? ": " : "",
		     path && *path ? path : "", path && *path ? ": " : "") < 0)
		return NULL;
	return s;
}

/* err_set with a location in front of the message. */
static int err_set_at(struct err *err, int status, const char *origin, int line,
		      const char *path, const char *key, const char *msg)
{
	char *full = path_join(path, key);
	char *where = where_format(origin, line, full ? full : key);

	err_set(err, status, "%s%s", where ? where : "", msg);
	if (err)
		str_sanitize(err->msg);
	free(where);
	free(full);
	return status;
}

/* ------------------------------------------------------------------------ */
/* Diagnostics */

void cfg_diag_init(struct cfg_diag *diag)
{
	diag->count = 0;
	diag->lines = NULL;
}

void cfg_diag_release(struct cfg_diag *diag)
{
	int i;

	if (!diag)
		return;
	for (i = 0; i < diag->count; i++)
		free(diag->lines[i]);
	free(diag->lines);
	cfg_diag_init(diag);
}

static void cfg_diag_vadd(struct cfg_diag *diag, const char *origin, int line,
			  const char *path, const char *fmt, va_list ap) PDM_PRINTF(5, 0);

/* A message that cannot be stored (out of memory) is dropped: the status still says it. */
static void cfg_diag_vadd(struct cfg_diag *diag, const char *origin, int line,
			  const char *path, const char *fmt, va_list ap)
{
	char *msg, *where, *full = NULL, **lines;

	if (!diag)
		return;
	if (vasprintf(&msg, fmt, ap) < 0)
		return;
	where = where_format(origin, line, path);
	if (!where || asprintf(&full, "%s%s", where, msg) < 0)
		full = NULL;
	free(where);
	free(msg);
	if (!full)
		return;
	str_sanitize(full);
	lines = realloc(diag->lines, (diag->count + 1) * sizeof(*lines));
	if (!lines) {
		free(full);
		return;
	}
	lines[diag->count++] = full;
	diag->lines = lines;
}

void cfg_diag_add(struct cfg_diag *diag, const char *origin, int line, const char *path,
		  const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	cfg_diag_vadd(diag, origin, line, path, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------------ */
/* The tree */

/* Strings handed out to callers stay valid until cfg_free, even when replaced. */
struct cfg_kept {
	struct cfg_kept *next;
	char *text;
};

/* What the tree needs beyond the public struct; cfg_new is the only allocator. */
struct cfg_tree_priv {
	struct cfg_tree tree;
	struct cfg_kept *kept;
};

static struct cfg_tree_priv *tree_priv(struct cfg_tree *tree)
{
	return (struct cfg_tree_priv *)((char *)tree - offsetof(struct cfg_tree_priv, tree));
}

static int tree_keep(struct cfg_tree *tree, char *text)
{
	struct cfg_tree_priv *priv = tree_priv(tree);
	struct cfg_kept *kept;

	kept = malloc(sizeof(*kept));
	if (!kept)
		return PDM_ERR_NO_MEMORY;
	kept->text = text;
	kept->next = priv->kept;
	priv->kept = kept;
	return 0;
}

/* A kept copy of text, shared with an equal one kept before; NULL if out of memory. */
static const char *tree_intern(struct cfg_tree *tree, const char *text)
{
	struct cfg_kept *kept;
	char *copy;

	for (kept = tree_priv(tree)->kept; kept; kept = kept->next)
		if (!strcmp(kept->text, text))
			return kept->text;
	copy = strdup(text);
	if (!copy || tree_keep(tree, copy)) {
		free(copy);
		return NULL;
	}
	return copy;
}

/* The origin a value keeps: tree->file and "-o" are shared, others are copied. */
static const char *tree_origin(struct cfg_tree *tree, const char *origin)
{
	if (!origin)
		return NULL;
	if (tree->file && !strcmp(origin, tree->file))
		return tree->file;
	if (!strcmp(origin, cfg_origin_override))
		return cfg_origin_override;
	return tree_intern(tree, origin);
}

static struct cfg_node *node_new(struct cfg_tree *tree, struct cfg_node *parent,
				 const char *name, size_t len)
{
	struct cfg_node *node, **link;

	node = calloc(1, sizeof(*node));
	if (!node)
		return NULL;
	node->name = strndup(name, len);
	if (!node->name)
		goto fail;
	node->path = parent ? path_join(parent->path, node->name) : strdup("");
	if (!node->path)
		goto fail;
	node->tree = tree;
	node->parent = parent;
	if (parent) {
		for (link = &parent->first_child; *link; link = &(*link)->next_sibling)
			;
		*link = node;
	}
	return node;
fail:
	free(node->name);
	free(node);
	return NULL;
}

static void node_free(struct cfg_node *node)
{
	struct cfg_node *child, *next_child;
	struct cfg_value *value, *next_value;

	for (child = node->first_child; child; child = next_child) {
		next_child = child->next_sibling;
		node_free(child);
	}
	for (value = node->values; value; value = next_value) {
		next_value = value->next;
		free(value->key);
		free(value->text);
		free(value->resolved);
		free(value);
	}
	free(node->name);
	free(node->path);
	free(node);
}

static struct cfg_tree *tree_new(const char *file, const char *dir, size_t dir_len)
{
	struct cfg_tree_priv *priv;
	struct cfg_tree *tree;

	priv = calloc(1, sizeof(*priv));
	if (!priv)
		return NULL;
	tree = &priv->tree;
	tree->dir = strndup(dir, dir_len);
	tree->file = file ? strdup(file) : NULL;
	tree->root = node_new(tree, NULL, "", 0);
	if (!tree->dir || (file && !tree->file) || !tree->root) {
		cfg_free(tree);
		return NULL;
	}
	return tree;
}

struct cfg_tree *cfg_new(const char *dir)
{
	if (!dir)
		dir = ".";
	return tree_new(NULL, dir, strlen(dir));
}

void cfg_free(struct cfg_tree *tree)
{
	struct cfg_tree_priv *priv;
	struct cfg_kept *kept, *next;

	if (!tree)
		return;
	priv = tree_priv(tree);
	if (tree->root)
		node_free(tree->root);
	for (kept = priv->kept; kept; kept = next) {
		next = kept->next;
		free(kept->text);
		free(kept);
	}
	free(tree->file);
	free(tree->dir);
	free(priv);
}

struct cfg_node *cfg_child(struct cfg_node *node, const char *name)
{
	struct cfg_node *child;

	if (!node || !name)
		return NULL;
	for (child = node->first_child; child; child = child->next_sibling)
		if (!strcasecmp(child->name, name))
			return child;
	return NULL;
}

/* cfg_child for a name that is not NUL-terminated. */
static struct cfg_node *node_child_n(struct cfg_node *node, const char *name, size_t len)
{
	struct cfg_node *child;

	for (child = node->first_child; child; child = child->next_sibling)
		if (!strncasecmp(child->name, name, len) && !child->name[len])
			return child;
	return NULL;
}

/* Empty components are skipped, so "a/", "/a" and "a//b" mean what they look like. */
struct cfg_node *cfg_find(struct cfg_node *from, const char *relpath)
{
	const char *p = relpath, *end;
	struct cfg_node *node = from;

	if (!p)
		return node;
	while (node && *p) {
		end = strchrnul(p, '/');
		if (end > p)
			node = node_child_n(node, p, end - p);
		p = *end ? end + 1 : end;
	}
	return node;
}

struct cfg_value *cfg_value_find(struct cfg_node *node, const char *key)
{
	struct cfg_value *value;

	if (!node || !key)
		return NULL;
	for (value = node->values; value; value = value->next)
		if (!strcasecmp(value->key, key))
			return value;
	return NULL;
}

/* A node path as written: not empty, no empty component ("/a", "a//b", "a/"). */
static bool path_is_valid(const char *path)
{
	size_t len = strlen(path);

	return len && path[0] != '/' && path[len - 1] != '/' && !strstr(path, "//");
}

/* Finds or creates the node at a valid, lower-case path below the root. */
static int node_get(struct cfg_tree *tree, const char *path, struct cfg_node **out)
{
	struct cfg_node *node = tree->root, *child;
	const char *p = path, *end;

	for (;;) {
		end = strchrnul(p, '/');
		child = node_child_n(node, p, end - p);
		if (!child)
			child = node_new(tree, node, p, end - p);
		if (!child)
			return PDM_ERR_NO_MEMORY;
		node = child;
		if (!*end)
			break;
		p = end + 1;
	}
	*out = node;
	return 0;
}

/* Sets key (lower case) of node; an old text stays valid for whoever holds it. */
static int node_set(struct cfg_node *node, const char *key, const char *text,
		    const char *origin, int line)
{
	struct cfg_tree *tree = node->tree;
	struct cfg_value *value, **link;
	char *copy;

	origin = tree_origin(tree, origin);
	copy = strdup(text);
	if (!copy)
		return PDM_ERR_NO_MEMORY;
	value = cfg_value_find(node, key);
	if (value) {
		if (tree_keep(tree, value->text))
			goto no_memory;
		value->text = copy;
		/* a caller may hold the old result too; without memory to keep it, leak it */
		if (value->resolved)
			(void)tree_keep(tree, value->resolved);
		value->resolved = NULL;
		value->is_used = false;
	} else {
		value = calloc(1, sizeof(*value));
		if (!value)
			goto no_memory;
		value->key = strdup(key);
		if (!value->key) {
			free(value);
			goto no_memory;
		}
		value->text = copy;
		for (link = &node->values; *link; link = &(*link)->next)
			;
		*link = value;
	}
	value->origin = origin;
	value->line = line;
	/* a node that holds a value was written somewhere, even without a header */
	if (!node->origin && origin) {
		node->origin = origin;
		node->line = line;
	}
	return 0;
no_memory:
	free(copy);
	return PDM_ERR_NO_MEMORY;
}

int cfg_set(struct cfg_tree *tree, const char *path, const char *key, const char *text,
	    const char *origin, int line)
{
	struct cfg_node *node;
	char *lpath, *lkey;
	int ret;

	if (!tree || !path || !key || !text || !*key || !path_is_valid(path))
		return PDM_ERR_INVALID_ARG;
	lpath = strdup(path);
	lkey = strdup(key);
	ret = PDM_ERR_NO_MEMORY;
	if (lpath && lkey) {
		str_lower(lpath);
		str_lower(lkey);
		ret = node_get(tree, lpath, &node);
		if (!ret)
			ret = node_set(node, lkey, text, origin, line);
	}
	free(lpath);
	free(lkey);
	return ret;
}

/* Trims white space at both ends, in place. */
static char *str_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

int cfg_override(struct cfg_tree *tree, const char *spec, struct cfg_diag *diag)
{
	char *copy, *eq, *name, *slash, *value, buf[SHOWN_SIZE];
	int ret;

	if (!tree || !spec)
		return PDM_ERR_INVALID_ARG;
	copy = strdup(spec);
	if (!copy)
		return PDM_ERR_NO_MEMORY;
	/* the value may hold '=' and '/' itself: the first '=' ends the name */
	eq = strchr(copy, '=');
	if (!eq)
		goto malformed;
	*eq = '\0';
	name = str_trim(copy);
	value = str_trim(eq + 1);
	slash = strrchr(name, '/');
	if (!slash)
		goto malformed;
	*slash = '\0';
	ret = cfg_set(tree, name, slash + 1, value, cfg_origin_override, 0);
	if (ret == PDM_ERR_INVALID_ARG)
		goto malformed;
	free(copy);
	return ret;
malformed:
	free(copy);
	cfg_diag_add(diag, cfg_origin_override, 0, NULL, "'%s': expected path/key=value",
		     shown(buf, sizeof(buf), spec));
	return PDM_ERR_CFG;
}

/* ------------------------------------------------------------------------ */
/* Values */

int cfg_parse_int(const char *text, int64_t *value)
{
	const char *p = text;
	bool is_negative = false;
	uint64_t n = 0, limit, shift = 0;
	int base = 10, digits = 0, d;

	if (!p)
		return PDM_ERR_CFG;
	if (*p == '-') {
		is_negative = true;
		p++;
	}
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	} else if (p[0] == '0' && p[1]) {
		base = 8;
		p++;
	}
	/* the magnitude of INT64_MIN is one more than INT64_MAX */
	limit = is_negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *p; p++, digits++) {
		if (isdigit((unsigned char)*p))
			d = *p - '0';
		else if (base == 16 && isxdigit((unsigned char)*p))
			d = tolower((unsigned char)*p) - 'a' + 10;
		else
			break;
		if (d >= base || n > (limit - d) / base)
			return PDM_ERR_CFG;
		n = n * base + d;
	}
	/* "0" alone is decimal; "0K" and "00" are octal with their digit eaten above */
	if (!digits && base != 8)
		return PDM_ERR_CFG;
	switch (*p) {
	case 'k': case 'K': shift = 10; p++; break;
	case 'm': case 'M': shift = 20; p++; break;
	case 'g': case 'G': shift = 30; p++; break;
	}
	if (*p)
		return PDM_ERR_CFG;
	if (n > limit >> shift)
		return PDM_ERR_CFG;
	n <<= shift;
	*value = is_negative ? (int64_t)(0 - n) : (int64_t)n;
	return 0;
}

int cfg_parse_bool(const char *text, bool *value)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	if (!text)
		return PDM_ERR_CFG;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (!strcasecmp(text, yes[i])) {
			*value = true;
			return 0;
		}
		if (!strcasecmp(text, no[i])) {
			*value = false;
			return 0;
		}
	}
	return PDM_ERR_CFG;
}

/*
 * Checks text as a value of key; fills *number / *flag for integers and booleans.
 * On failure msg says what was expected, for the caller to put a location in front.
 */
static int value_check(const struct pdm_cfg_key *key, const char *text, int64_t *number,
		       bool *flag, char *msg, size_t size)
{
	char buf[SHOWN_SIZE];
	int64_t i;
	bool b;

	switch (key->type) {
	case PDM_CFG_INT:
		if (cfg_parse_int(text, &i)) {
			snprintf(msg, size, "expected an integer, got '%s'",
				 shown(buf, sizeof(buf), text));
			return PDM_ERR_CFG;
		}
		if (key->min < key->max && (i < key->min || i > key->max)) {
			snprintf(msg, size, "expected an integer in [%" PRId64 ", %" PRId64
				 "], got '%s'", key->min, key->max, shown(buf, sizeof(buf), text));
			return PDM_ERR_CFG;
		}
		if (number)
			*number = i;
		return 0;
	case PDM_CFG_BOOL:
		if (cfg_parse_bool(text, &b)) {
			snprintf(msg, size, "expected a boolean (yes/no, true/false, on/off, 1/0), "
				 "got '%s'", shown(buf, sizeof(buf), text));
			return PDM_ERR_CFG;
		}
		if (flag)
			*flag = b;
		return 0;
	case PDM_CFG_STRING:
		return 0;
	case PDM_CFG_PATH:
		if (!*text) {
			snprintf(msg, size, "expected a path, got ''");
			return PDM_ERR_CFG;
		}
		return 0;
	case PDM_CFG_INVALID:
		break;
	}
	snprintf(msg, size, "has an invalid type %d", (int)key->type);
	return PDM_ERR_CFG;
}

/* ------------------------------------------------------------------------ */
/* Schemas */

const struct pdm_cfg_key *cfg_schema_find(const struct pdm_cfg_key *schema, const char *key)
{
	if (!schema || !key)
		return NULL;
	for (; schema->name; schema++)
		if (!strcasecmp(schema->name, key))
			return schema;
	return NULL;
}

int cfg_schema_validate(const struct pdm_cfg_key *schema, struct err *err)
{
	const struct pdm_cfg_key *key, *other;
	char msg[256];
	const char *c;
	int index;

	if (!schema)
		return 0;
	for (key = schema, index = 0; key->name; key++, index++) {
		if (!*key->name)
			return err_set(err, PDM_ERR_ABI, "config key #%d has an empty name", index);
		for (c = key->name; *c; c++)
			if (isupper((unsigned char)*c))
				return err_set(err, PDM_ERR_ABI,
					       "config key '%s': names must be lower case", key->name);
		/* anything else would clash with INI syntax or the path separator */
		if (key->name[strspn(key->name, "abcdefghijklmnopqrstuvwxyz0123456789_-.")])
			return err_set(err, PDM_ERR_ABI, "config key '%s': names may only use "
				       "a-z, 0-9, '_', '-' and '.'", key->name);
		for (other = schema; other != key; other++)
			if (!strcmp(other->name, key->name))
				return err_set(err, PDM_ERR_ABI,
					       "config key '%s' is declared twice", key->name);
		if (key->type < PDM_CFG_INT || key->type > PDM_CFG_PATH)
			return err_set(err, PDM_ERR_ABI, "config key '%s': invalid type %d",
				       key->name, (int)key->type);
		if (key->flags & ~PDM_CFG_F_REQUIRED)
			return err_set(err, PDM_ERR_ABI, "config key '%s': unknown flags 0x%x",
				       key->name, (unsigned)(key->flags & ~PDM_CFG_F_REQUIRED));
		if (key->def && !(key->flags & PDM_CFG_F_REQUIRED) &&
		    value_check(key, key->def, NULL, NULL, msg, sizeof(msg)))
			return err_set(err, PDM_ERR_ABI, "config key '%s': invalid default: %s",
				       key->name, msg);
	}
	return 0;
}

static bool name_in(const char *const *names, const char *name)
{
	for (; names && *names; names++)
		if (!strcasecmp(*names, name))
			return true;
	return false;
}

/* "iobase, irq" for messages; malloc'ed (NULL if out of memory). */
static char *known_keys(const struct pdm_cfg_key *schema, const char *const *extra_keys)
{
	const struct pdm_cfg_key *key;
	const char *const *extra;
	const char *sep = "";
	char *list = NULL;
	size_t size = 0;
	FILE *f;

	f = open_memstream(&list, &size);
	if (!f)
		return NULL;
	for (key = schema; key && key->name; key++, sep = ", ")
		fprintf(f, "%s%s", sep, key->name);
	for (extra = extra_keys; extra && *extra; extra++, sep = ", ")
		fprintf(f, "%s%s", sep, *extra);
	if (fclose(f)) {
		free(list);
		return NULL;
	}
	return list;
}

int cfg_check_schema(struct cfg_node *node, const struct pdm_cfg_key *schema,
		     const char *const *extra_keys, const char *owner, struct cfg_diag *diag)
{
	const struct pdm_cfg_key *key;
	struct cfg_value *value;
	const char *origin;
	char msg[256], *path, *known;
	int ret = 0;

	if (!node)
		return PDM_ERR_INVALID_ARG;
	cfg_claim(node);
	for (value = node->values; value; value = value->next) {
		path = path_join(node->path, value->key);
		key = cfg_schema_find(schema, value->key);
		if (key) {
			value->is_used = true;
			if (value_check(key, value->text, NULL, NULL, msg, sizeof(msg))) {
				cfg_diag_add(diag, value->origin, value->line, path, "%s", msg);
				ret = PDM_ERR_CFG;
			}
		} else if (name_in(extra_keys, value->key)) {
			value->is_used = true;
		} else {
			known = known_keys(schema, extra_keys);
			cfg_diag_add(diag, value->origin, value->line, path,
				     "unknown key%s%s (%s%s)", owner ? " for " : "",
				     owner ? owner : "",
				     known && *known ? "known keys: " : "no keys are known",
				     known ? known : "");
			free(known);
			ret = PDM_ERR_CFG;
		}
		free(path);
	}
	/* a node without a header of its own is reported where its file is */
	origin = node->origin ? node->origin : node->tree->file;
	for (key = schema; key && key->name; key++) {
		if (!(key->flags & PDM_CFG_F_REQUIRED) || cfg_value_find(node, key->name))
			continue;
		path = path_join(node->path, key->name);
		if (key->help)
			cfg_diag_add(diag, origin, node->line, path,
				     "required key is not set (%s: %s)", key->name, key->help);
		else
			cfg_diag_add(diag, origin, node->line, path, "required key is not set");
		free(path);
		ret = PDM_ERR_CFG;
	}
	return ret;
}

/*
 * The common part of the getters: finds key in the schema and its text in node (or
 * the default). *value is NULL when the default is used.
 */
static int get_text(struct cfg_node *node, const struct pdm_cfg_key *schema, const char *key,
		    enum pdm_cfg_type type, const struct pdm_cfg_key **entry,
		    struct cfg_value **value, const char **text, struct err *err)
{
	const struct pdm_cfg_key *k;
	struct cfg_value *v;

	if (!node || !key)
		return err_set(err, PDM_ERR_INVALID_ARG, "no config node or key to read");
	k = cfg_schema_find(schema, key);
	if (!k)
		return err_set(err, PDM_ERR_INVALID_ARG, "config key '%s' is not in the schema",
			       key);
	/* a path is a string too; anything else is a programming error */
	if (k->type != type && !(type == PDM_CFG_STRING && k->type == PDM_CFG_PATH))
		return err_set(err, PDM_ERR_INVALID_ARG, "config key '%s' is of type %s, not %s",
			       key, pdm_cfg_type_name(k->type), pdm_cfg_type_name(type));
	*entry = k;
	v = cfg_value_find(node, k->name);
	*value = v;
	if (v) {
		v->is_used = true;
		*text = v->text;
		return 0;
	}
	if (k->flags & PDM_CFG_F_REQUIRED)
		return err_set_at(err, PDM_ERR_CFG, node->origin ? node->origin : node->tree->file,
				  node->line, node->path, k->name, "required key is not set");
	if (!k->def)
		return err_set_at(err, PDM_ERR_CFG_MISSING, NULL, 0, node->path, k->name,
				  "not set");
	*text = k->def;
	return 0;
}

/* Checks the text found by get_text, with the location of the value in messages. */
static int get_check(struct cfg_node *node, const struct pdm_cfg_key *entry,
		     struct cfg_value *value, const char *text, int64_t *number, bool *flag,
		     struct err *err)
{
	char msg[256], full[300];

	if (!value_check(entry, text, number, flag, msg, sizeof(msg)))
		return 0;
	if (value)
		return err_set_at(err, PDM_ERR_CFG, value->origin, value->line, node->path,
				  entry->name, msg);
	snprintf(full, sizeof(full), "invalid default: %s", msg);
	return err_set_at(err, PDM_ERR_CFG, NULL, 0, node->path, entry->name, full);
}

int cfg_get_int(struct cfg_node *node, const struct pdm_cfg_key *schema, const char *key,
		int64_t *value, struct err *err)
{
	const struct pdm_cfg_key *entry;
	struct cfg_value *v;
	const char *text;
	int ret;

	ret = get_text(node, schema, key, PDM_CFG_INT, &entry, &v, &text, err);
	if (ret)
		return ret;
	return get_check(node, entry, v, text, value, NULL, err);
}

int cfg_get_bool(struct cfg_node *node, const struct pdm_cfg_key *schema, const char *key,
		 bool *value, struct err *err)
{
	const struct pdm_cfg_key *entry;
	struct cfg_value *v;
	const char *text;
	int ret;

	ret = get_text(node, schema, key, PDM_CFG_BOOL, &entry, &v, &text, err);
	if (ret)
		return ret;
	return get_check(node, entry, v, text, NULL, value, err);
}

int cfg_get_string(struct cfg_node *node, const struct pdm_cfg_key *schema, const char *key,
		   const char **value, struct err *err)
{
	const struct pdm_cfg_key *entry;
	struct cfg_value *v;
	const char *text;
	int ret;

	ret = get_text(node, schema, key, PDM_CFG_STRING, &entry, &v, &text, err);
	if (ret)
		return ret;
	*value = text;
	return 0;
}

/* dir joined with a relative text; malloc'ed. */
static char *path_resolve(const char *dir, const char *text)
{
	size_t len = strlen(dir);
	char *s;

	if (text[0] == '/')
		return strdup(text);
	if (asprintf(&s, "%s%s%s", dir, len && dir[len - 1] == '/' ? "" : "/", text) < 0)
		return NULL;
	return s;
}

int cfg_get_path(struct cfg_node *node, const struct pdm_cfg_key *schema, const char *key,
		 const char **value, struct err *err)
{
	const struct pdm_cfg_key *entry;
	const char *text, *interned;
	struct cfg_value *v;
	char *resolved;
	int ret;

	ret = get_text(node, schema, key, PDM_CFG_PATH, &entry, &v, &text, err);
	if (!ret)
		ret = get_check(node, entry, v, text, NULL, NULL, err);
	if (ret)
		return ret;
	if (v && v->resolved) {
		*value = v->resolved;
		return 0;
	}
	resolved = path_resolve(node->tree->dir, text);
	if (!resolved)
		return err_set(err, PDM_ERR_NO_MEMORY, "out of memory");
	if (v) {
		v->resolved = resolved;
		*value = resolved;
		return 0;
	}
	/* a default has no value to hang the result on: the tree keeps one copy */
	interned = tree_intern(node->tree, resolved);
	free(resolved);
	if (!interned)
		return err_set(err, PDM_ERR_NO_MEMORY, "out of memory");
	*value = interned;
	return 0;
}

void cfg_claim(struct cfg_node *node)
{
	if (node)
		node->is_claimed = true;
}

static bool subtree_is_claimed(const struct cfg_node *node)
{
	const struct cfg_node *child;

	if (node->is_claimed)
		return true;
	for (child = node->first_child; child; child = child->next_sibling)
		if (subtree_is_claimed(child))
			return true;
	return false;
}

static int report_unclaimed(struct cfg_node *node, struct cfg_diag *diag)
{
	struct cfg_node *child;
	int count = 0;

	/* implicit nodes (no origin) were never written, so nobody has to claim them */
	if (node->parent && node->origin && !subtree_is_claimed(node)) {
		cfg_diag_add(diag, node->origin, node->line, node->path, "unknown section");
		count++;
	}
	for (child = node->first_child; child; child = child->next_sibling)
		count += report_unclaimed(child, diag);
	return count;
}

int cfg_report_unclaimed(struct cfg_tree *tree, struct cfg_diag *diag)
{
	if (!tree || !tree->root)
		return 0;
	return report_unclaimed(tree->root, diag);
}

/* ------------------------------------------------------------------------ */
/* Reading INI files: our mirror of iniparser's line rules */

enum ini_kind {
	INI_NONE = 0,           /* empty or comment */
	INI_SECTION,
	INI_VALUE,
	INI_ERROR,              /* iniparser: syntax error */
	INI_TOO_LONG,           /* iniparser: input line too long (gives up) */
	INI_UNFINISHED,         /* '\' on the last line: iniparser drops it silently */
};

struct ini_line {
	enum ini_kind kind;
	int first, last;        /* physical lines it spans, 1-based */
	int ini_line;           /* the line number iniparser gives it (counts its reads) */
	char *section;          /* INI_VALUE: iniparser's section, for the dictionary key */
	char *name;             /* INI_SECTION: what is between the brackets, trimmed */
	char *key;              /* INI_VALUE */
	char *text;             /* INI_ERROR: the line, for the message */
};

struct ini_scan {
	struct ini_line *lines;
	int count;
};

/*
 * The file as fgets would hand it to iniparser. iniparser counts reads, not lines:
 * a read cut short by its buffer that it does not reject (a NUL byte early in a long
 * line) makes its numbers run ahead. So we count physical lines on the side.
 */
struct ini_reader {
	const char *text;
	size_t size, pos;
	bool is_eof;            /* what feof() would say */
	bool ended_line;        /* the last read stopped after a '\n' */
	int read_line;          /* physical line the last read started in */
	int newlines;           /* '\n' read so far */
};

static char *ini_fgets(char *s, int n, struct ini_reader *r)
{
	int i = 0;

	r->ended_line = false;
	r->read_line = r->newlines + 1;
	/* iniparser never asks for less: its continuation offset stays below the size - 1 */
	if (n < 2)
		return NULL;
	while (i < n - 1) {
		if (r->pos == r->size) {
			r->is_eof = true;
			break;
		}
		s[i] = r->text[r->pos++];
		if (s[i++] == '\n') {
			r->ended_line = true;
			r->newlines++;
			break;
		}
	}
	if (!i)
		return NULL;
	s[i] = '\0';
	return s;
}

/* iniparser's strstrip: trims white space at both ends, in place; returns the length. */
static size_t ini_strip(char *s)
{
	char *start = s, *end = s + strlen(s);

	while (isspace((unsigned char)*start))
		start++;
	while (end > start && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	memmove(s, start, end - start + 1);
	return end - start;
}

/* iniparser's strlwc: lower case, and like it cut to len - 1 characters. */
static void ini_lower(char *s, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len; i++)
		s[i] = (char)tolower((unsigned char)s[i]);
	if (len)
		s[i] = '\0';
}

static int scan_add(struct ini_scan *scan, enum ini_kind kind, int first, int last,
		    int ini_line, struct ini_line **out)
{
	struct ini_line *lines;

	lines = realloc(scan->lines, (scan->count + 1) * sizeof(*lines));
	if (!lines)
		return PDM_ERR_NO_MEMORY;
	scan->lines = lines;
	*out = memset(&lines[scan->count++], 0, sizeof(*lines));
	(*out)->kind = kind;
	(*out)->first = first;
	(*out)->last = last;
	(*out)->ini_line = ini_line;
	return 0;
}

static void scan_release(struct ini_scan *scan)
{
	int i;

	for (i = 0; i < scan->count; i++) {
		free(scan->lines[i].section);
		free(scan->lines[i].name);
		free(scan->lines[i].key);
		free(scan->lines[i].text);
	}
	free(scan->lines);
	scan->lines = NULL;
	scan->count = 0;
}

/*
 * iniparser_line: classifies one logical line. section is iniparser's current section
 * and is updated the way it does it (even for "[]", which keeps a cut-down old name).
 */
static int scan_line(struct ini_scan *scan, const char *input, int first, int last,
		     int ini_line, char *section)
{
	char line[INI_LINE_SIZE + 1];
	struct ini_line *entry;
	const char *close, *eq;
	size_t len;
	int ret;

	snprintf(line, sizeof(line), "%s", input);
	len = ini_strip(line);
	if (len < 1 || line[0] == '#' || line[0] == ';')
		return 0;
	if (line[0] == '[' && line[len - 1] == ']') {
		ret = scan_add(scan, INI_SECTION, first, last, ini_line, &entry);
		if (ret)
			return ret;
		/* sscanf("[%[^]]") matches nothing for "[]" and leaves section alone */
		close = strchr(line + 1, ']');
		if (close > line + 1) {
			memcpy(section, line + 1, close - line - 1);
			section[close - line - 1] = '\0';
			entry->name = strndup(line + 1, close - line - 1);
			if (!entry->name)
				return PDM_ERR_NO_MEMORY;
			ini_strip(entry->name);
			str_lower(entry->name);
		}
		ini_strip(section);
		ini_lower(section, len);
		return 0;
	}
	/*
	 * iniparser tries five sscanf patterns; all of them need a non-empty key in
	 * front of an '=', and any such line matches the last one ("%[^=] %[=]").
	 */
	eq = strchr(line, '=');
	if (!eq || eq == line) {
		ret = scan_add(scan, INI_ERROR, first, last, ini_line, &entry);
		if (!ret) {
			entry->text = strdup(line);
			if (!entry->text)
				ret = PDM_ERR_NO_MEMORY;
		}
		return ret;
	}
	ret = scan_add(scan, INI_VALUE, first, last, ini_line, &entry);
	if (ret)
		return ret;
	entry->key = strndup(line, eq - line);
	entry->section = strdup(section);
	if (!entry->key || !entry->section)
		return PDM_ERR_NO_MEMORY;
	ini_strip(entry->key);
	ini_lower(entry->key, len);
	return 0;
}

/*
 * iniparser_load's read loop, line for line, so that lines are counted and joined
 * exactly as iniparser does (even its quirks: a NUL byte in a line looks too long
 * to it, a one-character last line without '\n' is skipped). Where iniparser gives
 * up (a line too long), we go on at the next line.
 */
static int ini_scan_text(const char *text, size_t size, struct ini_scan *scan)
{
	char line[INI_LINE_SIZE + 1], section[INI_LINE_SIZE + 1];
	struct ini_reader r = { .text = text, .size = size };
	struct ini_line *entry;
	int last = 0, lineno = 0, first = 0, phys = 0, len, ret;

	memset(line, 0, sizeof(line));
	memset(section, 0, sizeof(section));
	while (ini_fgets(line + last, INI_LINE_SIZE - last, &r)) {
		lineno++;
		phys = r.read_line;
		if (!last)
			first = phys;
		len = (int)strlen(line) - 1;
		if (len <= 0)
			continue;
		if (line[len] != '\n' && !r.is_eof) {
			ret = scan_add(scan, INI_TOO_LONG, first, phys, lineno, &entry);
			if (ret)
				return ret;
			while (!r.ended_line && r.pos < r.size)
				if (r.text[r.pos++] == '\n') {
					r.newlines++;
					break;
				}
			memset(line, 0, sizeof(line));
			last = 0;
			continue;
		}
		while (len >= 0 && (line[len] == '\n' || isspace((unsigned char)line[len])))
			line[len--] = '\0';
		if (len < 0)
			len = 0;
		if (line[len] == '\\') {
			last = len;
			continue;
		}
		last = 0;
		ret = scan_line(scan, line, first, phys, lineno, section);
		if (ret)
			return ret;
		memset(line, 0, sizeof(line));
	}
	if (last)
		return scan_add(scan, INI_UNFINISHED, first, phys, lineno, &entry);
	return 0;
}

/* Problems found while loading, sorted by line before they go to the diag. */
struct load_problem {
	int line, seq;
	char *msg;
};

struct load {
	const char *text;
	size_t size;
	int line_count;
	size_t *line_start;             /* offset of each physical line, [1..line_count] */
	bool *is_reported;              /* physical lines already reported */
	bool *is_blank;                 /* physical lines left out of iniparser's copy */
	struct ini_scan scan;           /* of the original text */
	char *blanked;                  /* the text iniparser parsed last, if not the original */
	struct ini_scan blanked_scan;   /* of blanked */
	struct load_problem *problems;
	int problem_count;
};

static void load_problem(struct load *load, int line, const char *fmt, ...) PDM_PRINTF(3, 4);

static void load_problem(struct load *load, int line, const char *fmt, ...)
{
	struct load_problem *problems;
	va_list ap;
	char *msg;
	int ret;

	va_start(ap, fmt);
	ret = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (ret < 0)
		return;
	problems = realloc(load->problems, (load->problem_count + 1) * sizeof(*problems));
	if (!problems) {
		free(msg);
		return;
	}
	problems[load->problem_count] = (struct load_problem){
		.line = line, .seq = load->problem_count, .msg = msg,
	};
	load->problems = problems;
	load->problem_count++;
}

static int problem_cmp(const void *a, const void *b)
{
	const struct load_problem *pa = a, *pb = b;

	if (pa->line != pb->line)
		return pa->line < pb->line ? -1 : 1;
	return pa->seq < pb->seq ? -1 : pa->seq > pb->seq;
}

/* The line iniparser numbers n in a scan of the text it read, if any. */
static const struct ini_line *scan_find_ini(const struct ini_scan *scan, int n)
{
	int i;

	for (i = 0; i < scan->count; i++)
		if (scan->lines[i].ini_line == n)
			return &scan->lines[i];
	return NULL;
}

static bool load_line_has_nul(struct load *load, int n)
{
	size_t end = n < load->line_count ? load->line_start[n + 1] : load->size;

	return memchr(load->text + load->line_start[n], '\0', end - load->line_start[n]);
}

/*
 * A NUL byte makes iniparser's strlen stop short: it then takes the line for one cut
 * by its buffer, or for something else altogether. Say what really is wrong.
 */
static bool load_has_nul(struct load *load, int first, int last)
{
	int n;

	for (n = first; n <= last; n++)
		if (load_line_has_nul(load, n))
			return true;
	return false;
}

/*
 * Notes a bad logical line (physical lines first..last), said by iniparser (text: its
 * copy of the line) or found by our scan. Returns true if it was new. It is blanked
 * in what iniparser parses next.
 */
static bool load_bad_line(struct load *load, int first, int last, enum ini_kind kind,
			  const char *text)
{
	char buf[SHOWN_SIZE];
	int i;

	if (first < 1 || last > load->line_count || first > last || load->is_reported[first])
		return false;
	for (i = first; i <= last; i++)
		load->is_reported[i] = load->is_blank[i] = true;
	if (load_has_nul(load, first, last))
		load_problem(load, first, "line contains a NUL byte (is this a text file?)");
	else if (kind == INI_TOO_LONG)
		load_problem(load, first, "line is too long (the limit is %d characters)",
			     INI_LINE_SIZE - 2);
	else
		load_problem(load, first, "syntax error: expected '[section]' or 'key = value', "
			     "got '%s'", shown(buf, sizeof(buf), text ? text : ""));
	return true;
}

/* load_bad_line for line n as iniparser numbers it in the text that scan is of. */
static bool load_bad_ini_line(struct load *load, const struct ini_scan *scan, int n,
			      enum ini_kind kind, const char *text)
{
	const struct ini_line *entry = scan_find_ini(scan, n);

	/* without our mirror's view of the line, take iniparser's number as it is */
	if (!entry)
		return load_bad_line(load, n, n, kind, text);
	return load_bad_line(load, entry->first, entry->last, kind,
			     text ? text : entry->text);
}

/* Matches "iniparser: <what> in <name> (<line>)" and returns what follows, or NULL. */
static const char *ini_message_at(const char *msg, const char *what, const char *name,
				  int *line)
{
	static const char head[] = "iniparser: ";
	char *end;
	long n;

	if (strncmp(msg, head, strlen(head)))
		return NULL;
	msg += strlen(head);
	if (strncmp(msg, what, strlen(what)) || strncmp(msg + strlen(what), " in ", 4))
		return NULL;
	msg += strlen(what) + 4;
	if (strncmp(msg, name, strlen(name)) || strncmp(msg + strlen(name), " (", 2))
		return NULL;
	msg += strlen(name) + 2;
	errno = 0;
	n = strtol(msg, &end, 10);
	if (end == msg || *end != ')' || errno || n < 1 || n > INT32_MAX)
		return NULL;
	*line = (int)n;
	return end + 1;
}

/*
 * Turns what iniparser said about the text scan is of into problems; returns how
 * many lines were new.
 */
static int load_messages(struct load *load, const struct ini_scan *scan, char **msgs,
			 int count, const char *name)
{
	char buf[SHOWN_SIZE], *text;
	const char *rest;
	int i, j, n, added = 0;

	for (i = 0; i < count; i++) {
		rest = ini_message_at(msgs[i], "syntax error", name, &n);
		if (rest) {
			/* ":\n-> <line>\n", the line with its indent, which we leave out */
			text = strdup(strncmp(rest, ":\n-> ", 5) ? "" : rest + 5);
			added += load_bad_ini_line(load, scan, n, INI_ERROR,
						   text ? str_trim(text) : NULL);
			free(text);
			continue;
		}
		if (ini_message_at(msgs[i], "input line too long", name, &n)) {
			added += load_bad_ini_line(load, scan, n, INI_TOO_LONG, NULL);
			continue;
		}
		/* something we do not know (out of memory): pass it on once, as it is */
		text = strdup(msgs[i]);
		if (!text)
			continue;
		shown(buf, sizeof(buf), str_trim(text));
		free(text);
		for (j = 0; j < load->problem_count; j++)
			if (!load->problems[j].line && !strcmp(load->problems[j].msg, buf))
				break;
		if (j == load->problem_count)
			load_problem(load, 0, "%s", buf);
	}
	return added;
}

/* iniparser's messages while it runs; its error callback is global, hence the lock. */
struct ini_messages {
	char **msgs;
	int count;
};

static pthread_mutex_t ini_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ini_messages *ini_sink;

static int ini_error(const char *fmt, ...) PDM_PRINTF(1, 2);

static int ini_error(const char *fmt, ...)
{
	struct ini_messages *sink = ini_sink;
	char *msg, **msgs;
	va_list ap;
	int ret;

	va_start(ap, fmt);
	if (!sink) {
		/* someone else's iniparser call got in while our callback was set */
		ret = vfprintf(stderr, fmt, ap);
		va_end(ap);
		return ret;
	}
	ret = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (ret < 0)
		return 0;
	msgs = realloc(sink->msgs, (sink->count + 1) * sizeof(*msgs));
	if (!msgs) {
		free(msg);
		return 0;
	}
	msgs[sink->count++] = msg;
	sink->msgs = msgs;
	return ret;
}

static void ini_messages_release(struct ini_messages *m)
{
	int i;

	for (i = 0; i < m->count; i++)
		free(m->msgs[i]);
	free(m->msgs);
	m->msgs = NULL;
	m->count = 0;
}

static int write_all(int fd, const char *buf, size_t size)
{
	ssize_t n;

	while (size) {
		n = write(fd, buf, size);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		size -= n;
	}
	return 0;
}

/*
 * Runs iniparser over text. iniparser 4.1 only reads named files, so the text goes
 * into a memfd opened by its /proc name: that parses exactly the bytes we indexed.
 * Without /proc, fallback (the file itself) is used if given. name receives the
 * name iniparser saw, which its messages contain.
 */
static dictionary *ini_parse(const char *text, size_t size, const char *fallback,
			     struct ini_messages *msgs, char *name, size_t name_size)
{
	dictionary *dict;
	int fd;

	fd = memfd_create("modvm-config", MFD_CLOEXEC);
	if (fd >= 0) {
		snprintf(name, name_size, "/proc/self/fd/%d", fd);
		if (write_all(fd, text, size) || access(name, R_OK)) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0) {
		if (!fallback)
			return NULL;
		snprintf(name, name_size, "%s", fallback);
	}
	pthread_mutex_lock(&ini_lock);
	ini_sink = msgs;
	iniparser_set_error_callback(ini_error);
	dict = iniparser_load(name);
	iniparser_set_error_callback(NULL);
	ini_sink = NULL;
	pthread_mutex_unlock(&ini_lock);
	if (fd >= 0)
		close(fd);
	return dict;
}

/* The text with the blanked lines emptied (their '\n' kept, so lines keep numbers). */
static char *load_blanked(struct load *load, size_t *size)
{
	char *out, *p;
	size_t start, end;
	int n;

	out = malloc(load->size + 1);
	if (!out)
		return NULL;
	p = out;
	for (n = 1; n <= load->line_count; n++) {
		start = load->line_start[n];
		end = n < load->line_count ? load->line_start[n + 1] : load->size;
		if (load->is_blank[n]) {
			if (end > start && load->text[end - 1] == '\n')
				*p++ = '\n';
		} else {
			memcpy(p, load->text + start, end - start);
			p += end - start;
		}
	}
	*size = p - out;
	return out;
}

/*
 * Lets iniparser parse the file; after a rejection, again without the bad lines,
 * until it accepts the rest. Every bad line becomes a problem.
 */
static dictionary *load_parse(struct load *load, const char *file)
{
	const struct ini_scan *scan = &load->scan;
	struct ini_messages msgs = { 0 };
	const struct ini_line *line;
	char name[64 + PATH_MAX], *text;
	dictionary *dict;
	size_t size;
	int pass, i, added;

	dict = ini_parse(load->text, load->size, file, &msgs, name, sizeof(name));
	for (pass = 1; !dict && pass < INI_MAX_PASSES; pass++) {
		added = load_messages(load, scan, msgs.msgs, msgs.count, name);
		ini_messages_release(&msgs);
		/*
		 * iniparser stops at a long line, so what it said may not be all: leave
		 * out every line our scan finds bad, too.
		 */
		for (i = 0; pass == 1 && i < load->scan.count; i++) {
			line = &load->scan.lines[i];
			if (line->kind == INI_ERROR || line->kind == INI_TOO_LONG)
				added += load_bad_line(load, line->first, line->last, line->kind,
						       line->text);
		}
		if (!added)
			break;
		text = load_blanked(load, &size);
		if (!text)
			break;
		free(load->blanked);
		load->blanked = text;
		scan_release(&load->blanked_scan);
		if (ini_scan_text(text, size, &load->blanked_scan))
			break;
		scan = &load->blanked_scan;
		dict = ini_parse(text, size, NULL, &msgs, name, sizeof(name));
	}
	if (!dict) {
		load_messages(load, scan, msgs.msgs, msgs.count, name);
		if (!load->problem_count)
			load_problem(load, 0, "iniparser cannot read the file");
	}
	ini_messages_release(&msgs);
	return dict;
}

/* The first line of the file that sets key in the same section, for "set twice". */
static int load_first_set(const struct ini_scan *scan, const struct ini_line *entry)
{
	int i;

	for (i = 0; &scan->lines[i] != entry; i++)
		if (scan->lines[i].kind == INI_VALUE && !strcmp(scan->lines[i].key, entry->key) &&
		    !strcmp(scan->lines[i].section, entry->section))
			return scan->lines[i].first;
	return entry->first;
}

/* Fills the tree from the scan of what iniparser accepted, with iniparser's values. */
static int load_build(struct load *load, struct cfg_tree *tree, dictionary *dict,
		      const struct ini_scan *scan)
{
	struct cfg_node *node = NULL;
	bool is_in_section = false;
	const struct ini_line *entry;
	const char *text;
	char *dict_key;
	int i, ret;

	for (i = 0; i < scan->count; i++) {
		entry = &scan->lines[i];
		switch (entry->kind) {
		case INI_SECTION:
			is_in_section = true;
			node = NULL;
			if (!entry->name || !*entry->name) {
				load_problem(load, entry->first, "section name is empty");
				break;
			}
			if (!path_is_valid(entry->name)) {
				load_problem(load, entry->first, "%s: section path has an empty "
					     "component", entry->name);
				break;
			}
			ret = node_get(tree, entry->name, &node);
			if (ret)
				return ret;
			/* a section written twice is one node; the first header names it */
			if (!node->line) {
				node->origin = tree->file;
				node->line = entry->first;
			}
			break;
		case INI_VALUE:
			if (!is_in_section) {
				load_problem(load, entry->first, "key '%s' is outside any section",
					     entry->key);
				break;
			}
			/* the keys of a bad header were reported with it */
			if (!node || !dict)
				break;
			if (cfg_value_find(node, entry->key))
				load_problem(load, entry->first, "%s: key '%s' set twice "
					     "(first at line %d)", node->path, entry->key,
					     load_first_set(scan, entry));
			if (asprintf(&dict_key, "%s:%s", entry->section, entry->key) < 0)
				return PDM_ERR_NO_MEMORY;
			text = dictionary_get(dict, dict_key, NULL);
			free(dict_key);
			/* iniparser keeps the last of a key set twice, and so do we */
			if (text) {
				ret = node_set(node, entry->key, text, tree->file, entry->first);
				if (ret)
					return ret;
			}
			break;
		case INI_UNFINISHED:
			load_problem(load, entry->first, "line continues past the end of the file");
			break;
		case INI_ERROR:
		case INI_TOO_LONG:
			/* iniparser took what we took for bad: trust it, ignore the line */
		case INI_NONE:
			break;
		}
	}
	return 0;
}

/* The whole file, or a status with errno set. */
static int read_text(const char *file, char **text, size_t *size)
{
	size_t len = 0, alloc = 0;
	char *buf = NULL, *grown;
	ssize_t n;
	int fd, saved;

	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return PDM_ERR_IO;
	for (;;) {
		if (alloc - len < 4096) {
			alloc = alloc ? alloc * 2 : 8192;
			grown = alloc > CFG_MAX_FILE_SIZE ? NULL : realloc(buf, alloc + 1);
			if (!grown) {
				errno = alloc > CFG_MAX_FILE_SIZE ? EFBIG : ENOMEM;
				goto fail;
			}
			buf = grown;
		}
		n = read(fd, buf + len, alloc - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		if (!n)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	*text = buf;
	*size = len;
	return 0;
fail:
	saved = errno;
	free(buf);
	close(fd);
	errno = saved;
	return PDM_ERR_IO;
}

static int load_init(struct load *load, const char *text, size_t size)
{
	size_t i;
	int n;

	memset(load, 0, sizeof(*load));
	load->text = text;
	load->size = size;
	load->line_count = 1;
	for (i = 0; i < size; i++)
		if (text[i] == '\n' && i + 1 < size)
			load->line_count++;
	load->line_start = calloc(load->line_count + 2, sizeof(*load->line_start));
	load->is_reported = calloc(load->line_count + 2, sizeof(bool));
	load->is_blank = calloc(load->line_count + 2, sizeof(bool));
	if (!load->line_start || !load->is_reported || !load->is_blank)
		return PDM_ERR_NO_MEMORY;
	n = 1;
	for (i = 0; i < size; i++)
		if (text[i] == '\n' && i + 1 < size)
			load->line_start[++n] = i + 1;
	return ini_scan_text(text, size, &load->scan);
}

static void load_release(struct load *load)
{
	int i;

	for (i = 0; i < load->problem_count; i++)
		free(load->problems[i].msg);
	free(load->problems);
	free(load->line_start);
	free(load->is_reported);
	free(load->is_blank);
	free(load->blanked);
	scan_release(&load->scan);
	scan_release(&load->blanked_scan);
}

int cfg_load(const char *file, struct cfg_tree **treep, struct cfg_diag *diag)
{
	struct cfg_tree *tree = NULL;
	dictionary *dict = NULL;
	const char *slash;
	struct load load;
	size_t size;
	char *text;
	int ret, i;

	*treep = NULL;
	if (!file)
		return PDM_ERR_INVALID_ARG;
	if (read_text(file, &text, &size)) {
		cfg_diag_add(diag, NULL, 0, NULL, "cannot read '%s': %s", file, strerror(errno));
		return PDM_ERR_IO;
	}
	/* relative paths in the file are taken from its folder */
	slash = strrchr(file, '/');
	if (!slash)
		tree = tree_new(file, ".", 1);
	else
		tree = tree_new(file, file, slash == file ? 1 : (size_t)(slash - file));
	ret = load_init(&load, text, size);
	if (!tree && !ret)
		ret = PDM_ERR_NO_MEMORY;
	if (ret)
		goto out;
	dict = load_parse(&load, file);
	/* build from the scan of what iniparser parsed last, so the two agree */
	ret = load_build(&load, tree, dict, load.blanked ? &load.blanked_scan : &load.scan);
	if (ret)
		goto out;
	qsort(load.problems, load.problem_count, sizeof(*load.problems), problem_cmp);
	for (i = 0; i < load.problem_count; i++)
		cfg_diag_add(diag, tree->file, load.problems[i].line, NULL, "%s",
			     load.problems[i].msg);
	ret = load.problem_count ? PDM_ERR_CFG : 0;
	*treep = tree;
	tree = NULL;
out:
	if (ret == PDM_ERR_NO_MEMORY)
		cfg_diag_add(diag, file, 0, NULL, "out of memory");
	if (dict)
		iniparser_freedict(dict);
	load_release(&load);
	cfg_free(tree);
	free(text);
	return ret;
}
