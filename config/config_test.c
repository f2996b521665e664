/*
 * config/config_test.c - tests of the configuration tree: INI parsing with file:line,
 * value parsing, schema checks, getters with defaults, overrides, unclaimed sections.
 *
 * Each test runs in a fresh temporary folder (the current folder while it runs), so a
 * file written as "vm.ini" shows up as "vm.ini" in messages.
 */

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"

static char test_dir[PATH_MAX];
static int saved_cwd = -1;

static const struct pdm_cfg_key serial_schema[] = {
	{ .name = "iobase", .type = PDM_CFG_INT, .def = "0x3f8", .min = 0, .max = 65535,
	  .help = "base I/O port" },
	{ .name = "irq", .type = PDM_CFG_INT, .def = "4", .min = 0, .max = 15,
	  .help = "interrupt line" },
	{ 0 }
};

static const struct pdm_cfg_key file_schema[] = {
	{ .name = "path", .type = PDM_CFG_PATH, .flags = PDM_CFG_F_REQUIRED,
	  .help = "output file" },
	{ .name = "append", .type = PDM_CFG_BOOL, .def = "no", .help = "append to the file" },
	{ .name = "log", .type = PDM_CFG_PATH, .def = "logs/out.log", .help = "log file" },
	{ .name = "mode", .type = PDM_CFG_STRING, .help = "optional, no default" },
	{ .name = "size", .type = PDM_CFG_INT, .help = "optional, no default" },
	{ 0 }
};

static void dir_setup(void)
{
	char tmpl[] = "/tmp/config_test.XXXXXX";

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	ck_assert_ptr_nonnull(realpath(tmpl, test_dir));
	saved_cwd = open(".", O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(saved_cwd, 0);
	ck_assert_int_eq(chdir(test_dir), 0);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void dir_teardown(void)
{
	if (saved_cwd >= 0) {
		ck_assert_int_eq(fchdir(saved_cwd), 0);
		close(saved_cwd);
		saved_cwd = -1;
	}
	nftw(test_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *name, const char *text, size_t size)
{
	FILE *f = fopen(name, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, size, f), size);
	ck_assert_int_eq(fclose(f), 0);
}

static void write_ini(const char *name, const char *text)
{
	write_file(name, text, strlen(text));
}

/* Loads text as "vm.ini", expecting status ret; the tree must exist. */
static struct cfg_tree *load_text(const char *text, int ret, struct cfg_diag *diag)
{
	struct cfg_tree *tree = NULL;

	write_ini("vm.ini", text);
	cfg_diag_init(diag);
	ck_assert_int_eq(cfg_load("vm.ini", &tree, diag), ret);
	ck_assert_ptr_nonnull(tree);
	return tree;
}

/* Fails with every diag line printed when line is not among them. */
static void assert_diag_has(const struct cfg_diag *diag, const char *line)
{
	int i;

	for (i = 0; i < diag->count; i++)
		if (!strcmp(diag->lines[i], line))
			return;
	for (i = 0; i < diag->count; i++)
		fprintf(stderr, "  diag[%d]: %s\n", i, diag->lines[i]);
	ck_abort_msg("diag lacks \"%s\" (%d lines)", line, diag->count);
}

static const char *text_of(struct cfg_tree *tree, const char *path, const char *key)
{
	struct cfg_value *value = cfg_value_find(cfg_find(tree->root, path), key);

	return value ? value->text : NULL;
}

/* ------------------------------------------------------------------------ */
/* Parsing into the tree */

START_TEST(sections_become_nodes_split_on_slashes)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;
	struct cfg_node *node;

	tree = load_text("[devices/serial/0/lun0]\ndriver = file\n", 0, &diag);
	ck_assert_int_eq(diag.count, 0);
	node = cfg_child(tree->root, "devices");
	ck_assert_ptr_nonnull(node);
	ck_assert_str_eq(node->path, "devices");
	ck_assert_int_eq(node->line, 0);
	ck_assert_ptr_null(node->origin);
	node = cfg_child(cfg_child(node, "serial"), "0");
	ck_assert_ptr_nonnull(node);
	ck_assert_str_eq(node->path, "devices/serial/0");
	ck_assert_int_eq(node->line, 0);
	node = cfg_child(node, "lun0");
	ck_assert_ptr_nonnull(node);
	ck_assert_str_eq(node->name, "lun0");
	ck_assert_str_eq(node->path, "devices/serial/0/lun0");
	ck_assert_str_eq(node->origin, "vm.ini");
	ck_assert_int_eq(node->line, 1);
	ck_assert_ptr_eq(node->parent->parent->parent->parent, tree->root);
	ck_assert_ptr_eq(node->tree, tree);
	ck_assert_ptr_eq(cfg_find(tree->root, "devices/serial/0/lun0"), node);
	ck_assert_ptr_eq(cfg_find(node->parent, "lun0"), node);
	ck_assert_ptr_eq(cfg_find(node, ""), node);
	ck_assert_ptr_eq(cfg_find(node, NULL), node);
	ck_assert_ptr_null(cfg_find(tree->root, "devices/serial/1"));
	ck_assert_str_eq(text_of(tree, "devices/serial/0/lun0", "driver"), "file");
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(children_and_values_keep_file_order)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;
	struct cfg_node *node;
	struct cfg_value *value;

	tree = load_text("[vm]\nname = a\ncpus = 2\nmemory = 64M\n"
			 "[devices/serial/1]\n[devices/serial/0]\n[boot]\n", 0, &diag);
	node = tree->root->first_child;
	ck_assert_str_eq(node->name, "vm");
	ck_assert_str_eq(node->next_sibling->name, "devices");
	ck_assert_str_eq(node->next_sibling->next_sibling->name, "boot");
	ck_assert_ptr_null(node->next_sibling->next_sibling->next_sibling);
	node = cfg_find(tree->root, "devices/serial");
	ck_assert_str_eq(node->first_child->name, "1");
	ck_assert_str_eq(node->first_child->next_sibling->name, "0");
	value = cfg_find(tree->root, "vm")->values;
	ck_assert_str_eq(value->key, "name");
	ck_assert_str_eq(value->next->key, "cpus");
	ck_assert_str_eq(value->next->next->key, "memory");
	ck_assert_ptr_null(value->next->next->next);
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(names_are_folded_to_lower_case_and_values_are_not)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;
	struct cfg_value *value;

	tree = load_text("[Devices/Serial/0]\nIOBase = 0x3F8\nName = Hello World\n", 0, &diag);
	ck_assert_ptr_nonnull(cfg_child(tree->root, "devices"));
	ck_assert_str_eq(cfg_find(tree->root, "devices/serial/0")->path, "devices/serial/0");
	/* lookups do not care about case */
	ck_assert_ptr_eq(cfg_find(tree->root, "DEVICES/serial/0"),
			 cfg_find(tree->root, "devices/serial/0"));
	value = cfg_value_find(cfg_find(tree->root, "devices/serial/0"), "IOBASE");
	ck_assert_ptr_nonnull(value);
	ck_assert_str_eq(value->key, "iobase");
	ck_assert_str_eq(value->text, "0x3F8");
	ck_assert_str_eq(text_of(tree, "devices/serial/0", "name"), "Hello World");
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(values_remember_their_file_and_line)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;
	struct cfg_value *value;

	tree = load_text("; a comment\n# another\n\n[vm]\n\nname = x\n   cpus=2   \n", 0, &diag);
	ck_assert_int_eq(cfg_find(tree->root, "vm")->line, 4);
	value = cfg_value_find(cfg_find(tree->root, "vm"), "name");
	ck_assert_int_eq(value->line, 6);
	ck_assert_str_eq(value->origin, "vm.ini");
	ck_assert_ptr_eq(value->origin, tree->file);
	value = cfg_value_find(cfg_find(tree->root, "vm"), "cpus");
	ck_assert_int_eq(value->line, 7);
	ck_assert_str_eq(value->text, "2");
	ck_assert(!value->is_used);
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(quotes_and_comments_follow_iniparser)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;

	tree = load_text("[vm]\n"
			 "a = plain ; comment\n"
			 "b = \"quoted; not a comment\"\n"
			 "c = '  spaced  '\n"
			 "d =\n"
			 "e = \"\"\n"
			 "f = x = y\n"
			 "g = # only a comment\n", 0, &diag);
	ck_assert_int_eq(diag.count, 0);
	ck_assert_str_eq(text_of(tree, "vm", "a"), "plain");
	ck_assert_str_eq(text_of(tree, "vm", "b"), "quoted; not a comment");
	ck_assert_str_eq(text_of(tree, "vm", "c"), "  spaced  ");
	ck_assert_str_eq(text_of(tree, "vm", "d"), "");
	ck_assert_str_eq(text_of(tree, "vm", "e"), "");
	ck_assert_str_eq(text_of(tree, "vm", "f"), "x = y");
	ck_assert_str_eq(text_of(tree, "vm", "g"), "");
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(continued_lines_are_joined_and_indexed_at_their_first_line)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;
	struct cfg_value *value;

	tree = load_text("[boot]\ncmdline = console=ttyS0 \\\nquiet\nkernel = bz\n", 0, &diag);
	value = cfg_value_find(cfg_find(tree->root, "boot"), "cmdline");
	ck_assert_str_eq(value->text, "console=ttyS0 quiet");
	ck_assert_int_eq(value->line, 2);
	/* the line after the continuation keeps its own number */
	ck_assert_int_eq(cfg_value_find(cfg_find(tree->root, "boot"), "kernel")->line, 4);
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(repeated_section_header_adds_to_the_same_node)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;
	struct cfg_node *vm;

	tree = load_text("[vm]\nname = a\n[boot]\nkernel = k\n[vm]\ncpus = 2\n", 0, &diag);
	vm = cfg_find(tree->root, "vm");
	ck_assert_int_eq(vm->line, 1);
	ck_assert_str_eq(text_of(tree, "vm", "name"), "a");
	ck_assert_str_eq(text_of(tree, "vm", "cpus"), "2");
	ck_assert_ptr_null(vm->next_sibling->next_sibling);
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(empty_file_gives_an_empty_tree)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;

	tree = load_text("", 0, &diag);
	ck_assert_int_eq(diag.count, 0);
	ck_assert_ptr_null(tree->root->first_child);
	ck_assert_str_eq(tree->root->path, "");
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(tree_folder_is_the_folder_of_the_file)
{
	struct cfg_diag diag;
	struct cfg_tree *tree = NULL;
	char path[PATH_MAX + 16];

	cfg_diag_init(&diag);
	ck_assert_int_eq(mkdir("sub", 0700), 0);
	write_ini("sub/a.ini", "[vm]\n");
	ck_assert_int_eq(cfg_load("sub/a.ini", &tree, &diag), 0);
	ck_assert_str_eq(tree->file, "sub/a.ini");
	ck_assert_str_eq(tree->dir, "sub");
	cfg_free(tree);
	write_ini("b.ini", "[vm]\n");
	ck_assert_int_eq(cfg_load("b.ini", &tree, &diag), 0);
	ck_assert_str_eq(tree->dir, ".");
	cfg_free(tree);
	snprintf(path, sizeof(path), "%s/b.ini", test_dir);
	ck_assert_int_eq(cfg_load(path, &tree, &diag), 0);
	ck_assert_str_eq(tree->dir, test_dir);
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(unreadable_file_is_an_io_error)
{
	struct cfg_diag diag;
	struct cfg_tree *tree = (struct cfg_tree *)&diag;

	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load("missing.ini", &tree, &diag), PDM_ERR_IO);
	ck_assert_ptr_null(tree);
	ck_assert_int_eq(diag.count, 1);
	assert_diag_has(&diag, "cannot read 'missing.ini': No such file or directory");
	ck_assert_int_eq(mkdir("folder.ini", 0700), 0);
	ck_assert_int_eq(cfg_load("folder.ini", &tree, &diag), PDM_ERR_IO);
	ck_assert_ptr_null(tree);
	assert_diag_has(&diag, "cannot read 'folder.ini': Is a directory");
	cfg_diag_release(&diag);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Problems found while loading */

START_TEST(syntax_error_is_reported_with_file_and_line_and_the_rest_still_loads)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;

	tree = load_text("[vm]\nname = a\nthis line has no equals sign\ncpus = 2\n",
			 PDM_ERR_CFG, &diag);
	ck_assert_int_eq(diag.count, 1);
	assert_diag_has(&diag, "vm.ini:3: syntax error: expected '[section]' or "
			"'key = value', got 'this line has no equals sign'");
	/* iniparser rejects the whole file; we still have everything around the error */
	ck_assert_str_eq(text_of(tree, "vm", "name"), "a");
	ck_assert_str_eq(text_of(tree, "vm", "cpus"), "2");
	ck_assert_int_eq(cfg_value_find(cfg_find(tree->root, "vm"), "cpus")->line, 4);
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(syntax_errors_go_to_the_diag_not_to_stderr)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;
	char buf[256];
	int saved, fd;
	ssize_t n;

	fflush(stderr);
	saved = dup(2);
	fd = open("stderr.txt", O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	dup2(fd, 2);
	tree = load_text("[vm]\n=x\n   junk  \n", PDM_ERR_CFG, &diag);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, buf, sizeof(buf), 0);
	close(fd);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(diag.count, 2);
	assert_diag_has(&diag, "vm.ini:2: syntax error: expected '[section]' or "
			"'key = value', got '=x'");
	assert_diag_has(&diag, "vm.ini:3: syntax error: expected '[section]' or "
			"'key = value', got 'junk'");
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(long_line_is_reported_and_the_rest_still_loads)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;
	char text[4096];

	snprintf(text, sizeof(text), "[vm]\nname = %02000d\ncpus = 2\nbad\n[boot]\nkernel = k\n", 7);
	tree = load_text(text, PDM_ERR_CFG, &diag);
	/* iniparser stops at the long line; the syntax error after it is found anyway */
	ck_assert_int_eq(diag.count, 2);
	assert_diag_has(&diag, "vm.ini:2: line is too long (the limit is 1022 characters)");
	assert_diag_has(&diag, "vm.ini:4: syntax error: expected '[section]' or "
			"'key = value', got 'bad'");
	ck_assert_ptr_null(text_of(tree, "vm", "name"));
	ck_assert_str_eq(text_of(tree, "vm", "cpus"), "2");
	ck_assert_str_eq(text_of(tree, "boot", "kernel"), "k");
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(binary_junk_is_reported_without_crashing)
{
	struct cfg_diag diag;
	struct cfg_tree *tree = NULL;
	char junk[8192];
	unsigned seed = 1;
	size_t i;
	int j;

	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(rand_r(&seed) >> 7);
	memcpy(junk, "[vm]\nname = x\n", 14);
	write_file("junk.ini", junk, sizeof(junk));
	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load("junk.ini", &tree, &diag), PDM_ERR_CFG);
	ck_assert_ptr_nonnull(tree);
	ck_assert_int_gt(diag.count, 1);
	ck_assert_str_eq(text_of(tree, "vm", "name"), "x");
	/* no control character reaches a message */
	for (j = 0; j < diag.count; j++)
		for (i = 0; diag.lines[j][i]; i++)
			ck_assert_int_ge((unsigned char)diag.lines[j][i], 0x20);
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(nul_byte_is_reported_as_such)
{
	static const char text[] = "[vm]\nname = a\0b\ncpus = 1\n";
	struct cfg_diag diag;
	struct cfg_tree *tree = NULL;

	write_file("vm.ini", text, sizeof(text) - 1);
	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load("vm.ini", &tree, &diag), PDM_ERR_CFG);
	ck_assert_int_eq(diag.count, 1);
	assert_diag_has(&diag, "vm.ini:2: line contains a NUL byte (is this a text file?)");
	ck_assert_str_eq(text_of(tree, "vm", "cpus"), "1");
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(nul_byte_early_in_a_long_line_keeps_the_line_numbers_right)
{
	struct cfg_diag diag;
	struct cfg_tree *tree = NULL;
	char text[2048];
	size_t size;

	/* iniparser reads such a line in two pieces and counts it twice */
	size = (size_t)snprintf(text, sizeof(text), "[vm]\n%c%01500d\nbad\ncpus = 1\n", 'x', 0);
	text[5] = '\0';
	write_file("vm.ini", text, size);
	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load("vm.ini", &tree, &diag), PDM_ERR_CFG);
	ck_assert_int_eq(diag.count, 2);
	assert_diag_has(&diag, "vm.ini:2: line contains a NUL byte (is this a text file?)");
	assert_diag_has(&diag, "vm.ini:3: syntax error: expected '[section]' or "
			"'key = value', got 'bad'");
	ck_assert_str_eq(text_of(tree, "vm", "cpus"), "1");
	ck_assert_int_eq(cfg_value_find(cfg_find(tree->root, "vm"), "cpus")->line, 4);
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(key_outside_any_section_is_reported)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;

	tree = load_text("memory = 64M\n[vm]\ncpus = 1\n", PDM_ERR_CFG, &diag);
	ck_assert_int_eq(diag.count, 1);
	assert_diag_has(&diag, "vm.ini:1: key 'memory' is outside any section");
	ck_assert_ptr_null(tree->root->values);
	ck_assert_str_eq(text_of(tree, "vm", "cpus"), "1");
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(key_set_twice_is_reported_and_the_last_one_counts)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;
	struct cfg_value *value;

	tree = load_text("[vm]\nmemory = 64M\ncpus = 1\nMemory = 128M\n[boot]\n[vm]\nmemory = 1G\n",
			 PDM_ERR_CFG, &diag);
	ck_assert_int_eq(diag.count, 2);
	assert_diag_has(&diag, "vm.ini:4: vm: key 'memory' set twice (first at line 2)");
	assert_diag_has(&diag, "vm.ini:7: vm: key 'memory' set twice (first at line 2)");
	value = cfg_value_find(cfg_find(tree->root, "vm"), "memory");
	ck_assert_str_eq(value->text, "1G");
	ck_assert_int_eq(value->line, 7);
	/* still one value, in its first place */
	ck_assert_ptr_eq(cfg_find(tree->root, "vm")->values, value);
	ck_assert_ptr_null(value->next->next);
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(bad_section_names_are_reported_and_their_keys_skipped)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;

	tree = load_text("[vm]\ncpus = 1\n[]\nx = 1\n[a//b]\ny = 2\n[/c]\n[boot]\nkernel = k\n",
			 PDM_ERR_CFG, &diag);
	ck_assert_int_eq(diag.count, 3);
	assert_diag_has(&diag, "vm.ini:3: section name is empty");
	assert_diag_has(&diag, "vm.ini:5: a//b: section path has an empty component");
	assert_diag_has(&diag, "vm.ini:7: /c: section path has an empty component");
	ck_assert_ptr_null(text_of(tree, "vm", "x"));
	ck_assert_ptr_null(cfg_child(tree->root, "a"));
	ck_assert_str_eq(text_of(tree, "boot", "kernel"), "k");
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(continuation_at_end_of_file_is_reported)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;

	tree = load_text("[vm]\nname = a \\", PDM_ERR_CFG, &diag);
	ck_assert_int_eq(diag.count, 1);
	assert_diag_has(&diag, "vm.ini:2: line continues past the end of the file");
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(every_problem_in_a_file_is_reported_in_line_order)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;

	tree = load_text("top = 1\n"                /* 1: outside any section */
			 "[vm]\n"
			 "oops\n"                   /* 3: syntax error */
			 "cpus = 1\n"
			 "cpus = 2\n"               /* 5: set twice */
			 "[]\n"                     /* 6: empty section name */
			 "[boot]\n"
			 "also bad\n",              /* 8: syntax error */
			 PDM_ERR_CFG, &diag);
	ck_assert_int_eq(diag.count, 5);
	ck_assert_str_eq(diag.lines[0], "vm.ini:1: key 'top' is outside any section");
	ck_assert_str_eq(diag.lines[1], "vm.ini:3: syntax error: expected '[section]' or "
			 "'key = value', got 'oops'");
	ck_assert_str_eq(diag.lines[2], "vm.ini:5: vm: key 'cpus' set twice (first at line 4)");
	ck_assert_str_eq(diag.lines[3], "vm.ini:6: section name is empty");
	ck_assert_str_eq(diag.lines[4], "vm.ini:8: syntax error: expected '[section]' or "
			 "'key = value', got 'also bad'");
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(diag_lines_leave_out_what_is_missing)
{
	struct cfg_diag diag;

	cfg_diag_init(&diag);
	cfg_diag_add(&diag, "a.ini", 3, "vm/cpus", "bad %d", 1);
	cfg_diag_add(&diag, "-o", 0, "vm/cpus", "bad");
	cfg_diag_add(&diag, "a.ini", 0, NULL, "bad");
	cfg_diag_add(&diag, NULL, 0, NULL, "bad");
	cfg_diag_add(NULL, "a.ini", 1, NULL, "dropped");
	ck_assert_int_eq(diag.count, 4);
	ck_assert_str_eq(diag.lines[0], "a.ini:3: vm/cpus: bad 1");
	ck_assert_str_eq(diag.lines[1], "-o: vm/cpus: bad");
	ck_assert_str_eq(diag.lines[2], "a.ini: bad");
	ck_assert_str_eq(diag.lines[3], "bad");
	cfg_diag_release(&diag);
	ck_assert_int_eq(diag.count, 0);
	ck_assert_ptr_null(diag.lines);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Integers and booleans */

static int64_t parse_int_ok(const char *text)
{
	int64_t value = 12345;

	ck_assert_msg(cfg_parse_int(text, &value) == 0, "'%s' should parse", text);
	return value;
}

START_TEST(integers_parse_in_decimal_hex_and_octal)
{
	ck_assert_int_eq(parse_int_ok("0"), 0);
	ck_assert_int_eq(parse_int_ok("42"), 42);
	ck_assert_int_eq(parse_int_ok("0x2f8"), 0x2f8);
	ck_assert_int_eq(parse_int_ok("0X2F8"), 0x2f8);
	ck_assert_int_eq(parse_int_ok("010"), 8);
	ck_assert_int_eq(parse_int_ok("0777"), 0777);
	ck_assert_int_eq(parse_int_ok("00"), 0);
	ck_assert_int_eq(parse_int_ok("-5"), -5);
	ck_assert_int_eq(parse_int_ok("-0x10"), -16);
	ck_assert_int_eq(parse_int_ok("-010"), -8);
	ck_assert_int_eq(parse_int_ok("9223372036854775807"), INT64_MAX);
	ck_assert_int_eq(parse_int_ok("-9223372036854775808"), INT64_MIN);
	ck_assert_int_eq(parse_int_ok("0x7fffffffffffffff"), INT64_MAX);
}
END_TEST

START_TEST(integer_suffixes_multiply_by_powers_of_1024)
{
	ck_assert_int_eq(parse_int_ok("1K"), 1024);
	ck_assert_int_eq(parse_int_ok("4k"), 4096);
	ck_assert_int_eq(parse_int_ok("64M"), 64 << 20);
	ck_assert_int_eq(parse_int_ok("64m"), 64 << 20);
	ck_assert_int_eq(parse_int_ok("2G"), 2LL << 30);
	ck_assert_int_eq(parse_int_ok("3g"), 3LL << 30);
	ck_assert_int_eq(parse_int_ok("0x10K"), 16 << 10);
	ck_assert_int_eq(parse_int_ok("010M"), 8 << 20);
	ck_assert_int_eq(parse_int_ok("0K"), 0);
	ck_assert_int_eq(parse_int_ok("-1K"), -1024);
	ck_assert_int_eq(parse_int_ok("8589934591G"), 8589934591LL << 30);
	ck_assert_int_eq(parse_int_ok("-8589934592G"), INT64_MIN);
}
END_TEST

START_TEST(malformed_integers_are_rejected)
{
	static const char *const bad[] = {
		"", "-", "abc", "12abc", "1.5", "0x", "-0x", "0xg", "08", "0789", "K", "-K",
		"1KB", "1KK", "1T", " 1", "1 ", "+1", "--1", "0x-1", "1e3", "1_000", "1,000",
		"9223372036854775808", "-9223372036854775809", "18446744073709551616",
		"0x8000000000000000", "8589934592G", "9007199254740992M",
		"99999999999999999999999999999",
	};
	int64_t value = 7;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(cfg_parse_int(bad[i], &value) == PDM_ERR_CFG,
			      "'%s' should be rejected", bad[i]);
		ck_assert_int_eq(value, 7);
	}
	ck_assert_int_eq(cfg_parse_int(NULL, &value), PDM_ERR_CFG);
}
END_TEST

START_TEST(booleans_parse_in_every_spelling_and_case)
{
	static const char *const yes[] = { "yes", "YES", "true", "True", "on", "ON", "1" };
	static const char *const no[] = { "no", "No", "false", "FALSE", "off", "Off", "0" };
	size_t i;
	bool value;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		value = false;
		ck_assert_int_eq(cfg_parse_bool(yes[i], &value), 0);
		ck_assert(value);
		value = true;
		ck_assert_int_eq(cfg_parse_bool(no[i], &value), 0);
		ck_assert(!value);
	}
}
END_TEST

START_TEST(malformed_booleans_are_rejected)
{
	static const char *const bad[] = { "", "y", "n", "2", "yes!", "enable", "t", " on",
					   "10", "nope" };
	size_t i;
	bool value;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(cfg_parse_bool(bad[i], &value) == PDM_ERR_CFG,
			      "'%s' should be rejected", bad[i]);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Checking sections against schemas */

static const char hello_ini[] =
	"; hello.ini\n"                         /* 1 */
	"[vm]\n"                                /* 2 */
	"memory = 64M\n"                        /* 3 */
	"\n"                                    /* 4 */
	"[devices/serial/0]\n"                  /* 5 */
	"irq = 4\n"                             /* 6 */
	"iobase = abc\n"                        /* 7 */
	"\n"                                    /* 8 */
	"speed = 9600\n"                        /* 9 */
	"[devices/serial/1]\n"                  /* 10 */
	"iobase = 70000\n"                      /* 11 */
	"irq = 0x2\n";                          /* 12 */

START_TEST(valid_section_passes_the_check_and_is_claimed)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;
	struct cfg_node *node;

	tree = load_text("[devices/serial/0]\niobase = 0x2f8\nirq = 3\n", 0, &diag);
	node = cfg_find(tree->root, "devices/serial/0");
	ck_assert(!node->is_claimed);
	ck_assert_int_eq(cfg_check_schema(node, serial_schema, NULL, "device 'serial'", &diag), 0);
	ck_assert_int_eq(diag.count, 0);
	ck_assert(node->is_claimed);
	ck_assert(cfg_value_find(node, "iobase")->is_used);
	ck_assert(cfg_value_find(node, "irq")->is_used);
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(unknown_key_is_reported_with_file_and_line)
{
	struct cfg_diag diag;
	struct cfg_tree *tree = NULL;
	struct cfg_node *node;

	write_ini("hello.ini", hello_ini);
	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load("hello.ini", &tree, &diag), 0);
	node = cfg_find(tree->root, "devices/serial/0");
	ck_assert_int_eq(cfg_check_schema(node, serial_schema, NULL, "device 'serial'", &diag),
			 PDM_ERR_CFG);
	assert_diag_has(&diag, "hello.ini:9: devices/serial/0/speed: unknown key for device "
			"'serial' (known keys: iobase, irq)");
	ck_assert(!cfg_value_find(node, "speed")->is_used);
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(bad_integer_is_reported_with_file_and_line)
{
	struct cfg_diag diag;
	struct cfg_tree *tree = NULL;

	write_ini("hello.ini", hello_ini);
	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load("hello.ini", &tree, &diag), 0);
	ck_assert_int_eq(cfg_check_schema(cfg_find(tree->root, "devices/serial/0"), serial_schema,
					  NULL, "device 'serial'", &diag), PDM_ERR_CFG);
	assert_diag_has(&diag, "hello.ini:7: devices/serial/0/iobase: expected an integer, "
			"got 'abc'");
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(out_of_range_integer_reports_the_range)
{
	struct cfg_diag diag;
	struct cfg_tree *tree = NULL;

	write_ini("hello.ini", hello_ini);
	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load("hello.ini", &tree, &diag), 0);
	ck_assert_int_eq(cfg_check_schema(cfg_find(tree->root, "devices/serial/1"), serial_schema,
					  NULL, "device 'serial'", &diag), PDM_ERR_CFG);
	ck_assert_int_eq(diag.count, 1);
	assert_diag_has(&diag, "hello.ini:11: devices/serial/1/iobase: expected an integer in "
			"[0, 65535], got '70000'");
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(every_problem_in_a_section_is_reported)
{
	struct cfg_diag diag;
	struct cfg_tree *tree = NULL;

	write_ini("hello.ini", hello_ini);
	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load("hello.ini", &tree, &diag), 0);
	ck_assert_int_eq(cfg_check_schema(cfg_find(tree->root, "devices/serial/0"), serial_schema,
					  NULL, "device 'serial'", &diag), PDM_ERR_CFG);
	ck_assert_int_eq(cfg_check_schema(cfg_find(tree->root, "devices/serial/1"), serial_schema,
					  NULL, "device 'serial'", &diag), PDM_ERR_CFG);
	ck_assert_int_eq(diag.count, 3);
	ck_assert_str_eq(diag.lines[0], "hello.ini:7: devices/serial/0/iobase: expected an "
			 "integer, got 'abc'");
	ck_assert_str_eq(diag.lines[1], "hello.ini:9: devices/serial/0/speed: unknown key for "
			 "device 'serial' (known keys: iobase, irq)");
	ck_assert_str_eq(diag.lines[2], "hello.ini:11: devices/serial/1/iobase: expected an "
			 "integer in [0, 65535], got '70000'");
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(bad_boolean_and_empty_path_are_reported)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;

	tree = load_text("[devices/x/0]\npath =\nappend = maybe\n", 0, &diag);
	ck_assert_int_eq(cfg_check_schema(cfg_find(tree->root, "devices/x/0"), file_schema, NULL,
					  "driver 'file'", &diag), PDM_ERR_CFG);
	ck_assert_int_eq(diag.count, 2);
	assert_diag_has(&diag, "vm.ini:2: devices/x/0/path: expected a path, got ''");
	assert_diag_has(&diag, "vm.ini:3: devices/x/0/append: expected a boolean (yes/no, "
			"true/false, on/off, 1/0), got 'maybe'");
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(missing_required_key_is_reported_at_the_section_header)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;

	tree = load_text("[vm]\n\n[devices/x/0]\nappend = yes\n", 0, &diag);
	ck_assert_int_eq(cfg_check_schema(cfg_find(tree->root, "devices/x/0"), file_schema, NULL,
					  "driver 'file'", &diag), PDM_ERR_CFG);
	ck_assert_int_eq(diag.count, 1);
	assert_diag_has(&diag, "vm.ini:3: devices/x/0/path: required key is not set "
			"(path: output file)");
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(extra_keys_are_accepted_and_listed_as_known)
{
	static const char *const extra[] = { "driver", NULL };
	struct cfg_diag diag;
	struct cfg_tree *tree;
	struct cfg_node *node;

	tree = load_text("[devices/serial/0/lun0]\ndriver = file\nbogus = 1\n", 0, &diag);
	node = cfg_find(tree->root, "devices/serial/0/lun0");
	ck_assert_int_eq(cfg_check_schema(node, NULL, extra, "lun 'lun0'", &diag), PDM_ERR_CFG);
	ck_assert_int_eq(diag.count, 1);
	assert_diag_has(&diag, "vm.ini:3: devices/serial/0/lun0/bogus: unknown key for "
			"lun 'lun0' (known keys: driver)");
	ck_assert(cfg_value_find(node, "driver")->is_used);
	ck_assert(node->is_claimed);
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(section_without_keys_says_none_are_known)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;

	tree = load_text("[plugins]\npath = x\n", 0, &diag);
	ck_assert_int_eq(cfg_check_schema(cfg_find(tree->root, "plugins"), NULL, NULL, NULL,
					  &diag), PDM_ERR_CFG);
	assert_diag_has(&diag, "vm.ini:2: plugins/path: unknown key (no keys are known)");
	ck_assert_int_eq(cfg_check_schema(NULL, serial_schema, NULL, NULL, &diag),
			 PDM_ERR_INVALID_ARG);
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Getters */

START_TEST(getters_return_the_values_of_the_file)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;
	struct cfg_node *node;
	struct err err = { 0 };
	const char *text;
	int64_t number;
	bool flag;

	tree = load_text("[devices/x/0]\npath = /tmp/out.txt\nappend = on\nmode = Fast\n"
			 "size = 2K\n", 0, &diag);
	node = cfg_find(tree->root, "devices/x/0");
	ck_assert_int_eq(cfg_get_bool(node, file_schema, "append", &flag, &err), 0);
	ck_assert(flag);
	ck_assert_int_eq(cfg_get_string(node, file_schema, "mode", &text, &err), 0);
	ck_assert_str_eq(text, "Fast");
	ck_assert_int_eq(cfg_get_int(node, file_schema, "size", &number, &err), 0);
	ck_assert_int_eq(number, 2048);
	ck_assert_int_eq(cfg_get_path(node, file_schema, "path", &text, &err), 0);
	ck_assert_str_eq(text, "/tmp/out.txt");
	ck_assert(cfg_value_find(node, "append")->is_used);
	ck_assert(cfg_value_find(node, "size")->is_used);
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(getters_apply_the_schema_defaults)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;
	struct cfg_node *node;
	struct err err = { 0 };
	int64_t number = 0;
	bool flag = true;

	tree = load_text("[devices/serial/0]\n[devices/x/0]\npath = a\n", 0, &diag);
	node = cfg_find(tree->root, "devices/serial/0");
	ck_assert_int_eq(cfg_get_int(node, serial_schema, "iobase", &number, &err), 0);
	ck_assert_int_eq(number, 0x3f8);
	ck_assert_int_eq(cfg_get_int(node, serial_schema, "IRQ", &number, &err), 0);
	ck_assert_int_eq(number, 4);
	node = cfg_find(tree->root, "devices/x/0");
	ck_assert_int_eq(cfg_get_bool(node, file_schema, "append", &flag, &err), 0);
	ck_assert(!flag);
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(optional_key_without_value_or_default_is_missing)
{
	struct cfg_tree *tree = cfg_new(NULL);
	struct err err = { 0 };
	const char *text = "untouched";
	int64_t number = 5;

	ck_assert_int_eq(cfg_set(tree, "devices/x/0", "path", "p", NULL, 0), 0);
	ck_assert_int_eq(cfg_get_string(cfg_find(tree->root, "devices/x/0"), file_schema, "mode",
					&text, &err), PDM_ERR_CFG_MISSING);
	ck_assert_str_eq(text, "untouched");
	ck_assert_str_eq(err.msg, "devices/x/0/mode: not set");
	ck_assert_int_eq(cfg_get_int(cfg_find(tree->root, "devices/x/0"), file_schema, "size",
				     &number, &err), PDM_ERR_CFG_MISSING);
	ck_assert_int_eq(number, 5);
	cfg_free(tree);
}
END_TEST

START_TEST(getter_for_a_key_outside_the_schema_is_a_programming_error)
{
	struct cfg_tree *tree = cfg_new(NULL);
	struct err err = { 0 };
	const char *text;
	int64_t number;

	ck_assert_int_eq(cfg_set(tree, "devices/serial/0", "speed", "9600", NULL, 0), 0);
	ck_assert_int_eq(cfg_get_int(cfg_find(tree->root, "devices/serial/0"), serial_schema,
				     "speed", &number, &err), PDM_ERR_INVALID_ARG);
	ck_assert_int_eq(err.status, PDM_ERR_INVALID_ARG);
	ck_assert_str_eq(err.msg, "config key 'speed' is not in the schema");
	/* asking for the wrong type is one too */
	ck_assert_int_eq(cfg_get_string(cfg_find(tree->root, "devices/serial/0"), serial_schema,
					"irq", &text, &err), PDM_ERR_INVALID_ARG);
	ck_assert_str_eq(err.msg, "config key 'irq' is of type integer, not string");
	cfg_free(tree);
}
END_TEST

START_TEST(getter_reports_a_bad_value_with_its_location)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;
	struct cfg_node *node;
	struct err err = { 0 };
	int64_t number = 99;
	bool flag;

	tree = load_text("[devices/serial/0]\niobase = 0x3f8\nirq = 16\n[devices/x/0]\n"
			 "append = perhaps\n", 0, &diag);
	node = cfg_find(tree->root, "devices/serial/0");
	ck_assert_int_eq(cfg_get_int(node, serial_schema, "irq", &number, &err), PDM_ERR_CFG);
	ck_assert_str_eq(err.msg, "vm.ini:3: devices/serial/0/irq: expected an integer in "
			 "[0, 15], got '16'");
	ck_assert_int_eq(number, 99);
	ck_assert_int_eq(cfg_get_bool(cfg_find(tree->root, "devices/x/0"), file_schema, "append",
				      &flag, &err), PDM_ERR_CFG);
	ck_assert_str_eq(err.msg, "vm.ini:5: devices/x/0/append: expected a boolean (yes/no, "
			 "true/false, on/off, 1/0), got 'perhaps'");
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(getter_of_a_missing_required_key_names_the_section)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;
	struct err err = { 0 };
	const char *text;

	tree = load_text("[devices/x/0]\nappend = no\n", 0, &diag);
	ck_assert_int_eq(cfg_get_path(cfg_find(tree->root, "devices/x/0"), file_schema, "path",
				      &text, &err), PDM_ERR_CFG);
	ck_assert_str_eq(err.msg, "vm.ini:1: devices/x/0/path: required key is not set");
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(relative_path_is_resolved_against_the_ini_folder)
{
	struct cfg_diag diag;
	struct cfg_tree *tree = NULL;
	struct cfg_node *node;
	struct err err = { 0 };
	const char *path, *again;

	ck_assert_int_eq(mkdir("machines", 0700), 0);
	write_ini("machines/vm.ini", "[devices/x/0]\npath = disks/out.txt\n");
	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_load("machines/vm.ini", &tree, &diag), 0);
	node = cfg_find(tree->root, "devices/x/0");
	ck_assert_int_eq(cfg_get_path(node, file_schema, "path", &path, &err), 0);
	ck_assert_str_eq(path, "machines/disks/out.txt");
	ck_assert_ptr_eq(path, cfg_value_find(node, "path")->resolved);
	ck_assert_int_eq(cfg_get_path(node, file_schema, "path", &again, &err), 0);
	ck_assert_ptr_eq(again, path);
	/* the string form is the text as written */
	ck_assert_int_eq(cfg_get_string(node, file_schema, "path", &again, &err), 0);
	ck_assert_str_eq(again, "disks/out.txt");
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(absolute_path_is_kept)
{
	struct cfg_tree *tree = cfg_new("/srv/vm");
	struct err err = { 0 };
	const char *path;

	ck_assert_int_eq(cfg_set(tree, "devices/x/0", "path", "/var/out.txt", NULL, 0), 0);
	ck_assert_int_eq(cfg_get_path(cfg_find(tree->root, "devices/x/0"), file_schema, "path",
				      &path, &err), 0);
	ck_assert_str_eq(path, "/var/out.txt");
	cfg_free(tree);
}
END_TEST

START_TEST(default_path_is_resolved_too_and_owned_by_the_tree)
{
	struct cfg_tree *tree = cfg_new("/srv/vm");
	struct cfg_node *node;
	struct err err = { 0 };
	const char *path, *again;

	ck_assert_str_eq(tree->dir, "/srv/vm");
	ck_assert_ptr_null(tree->file);
	ck_assert_int_eq(cfg_set(tree, "devices/x/0", "path", "out.txt", NULL, 0), 0);
	node = cfg_find(tree->root, "devices/x/0");
	ck_assert_int_eq(cfg_get_path(node, file_schema, "log", &path, &err), 0);
	ck_assert_str_eq(path, "/srv/vm/logs/out.log");
	ck_assert_int_eq(cfg_get_path(node, file_schema, "log", &again, &err), 0);
	ck_assert_ptr_eq(again, path);
	ck_assert_int_eq(cfg_get_path(node, file_schema, "path", &path, &err), 0);
	ck_assert_str_eq(path, "/srv/vm/out.txt");
	cfg_free(tree);
}
END_TEST

START_TEST(new_tree_takes_relative_paths_from_the_current_folder)
{
	struct cfg_tree *tree = cfg_new(NULL);
	struct err err = { 0 };
	const char *path;

	ck_assert_str_eq(tree->dir, ".");
	ck_assert_ptr_nonnull(tree->root);
	ck_assert_int_eq(cfg_set(tree, "devices/x/0", "path", "out.txt", NULL, 0), 0);
	ck_assert_int_eq(cfg_get_path(cfg_find(tree->root, "devices/x/0"), file_schema, "path",
				      &path, &err), 0);
	ck_assert_str_eq(path, "./out.txt");
	cfg_free(tree);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Overrides */

START_TEST(override_adds_a_new_key)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;
	struct cfg_value *value;

	tree = load_text("[vm]\ncpus = 1\n", 0, &diag);
	ck_assert_int_eq(cfg_override(tree, "vm/memory=64M", &diag), 0);
	value = cfg_value_find(cfg_find(tree->root, "vm"), "memory");
	ck_assert_ptr_nonnull(value);
	ck_assert_str_eq(value->text, "64M");
	ck_assert_str_eq(value->origin, "-o");
	ck_assert_int_eq(value->line, 0);
	ck_assert_ptr_eq(cfg_find(tree->root, "vm")->values->next, value);
	ck_assert_int_eq(diag.count, 0);
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(override_replaces_a_key_from_the_file)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;
	struct cfg_node *node;
	struct cfg_value *value;
	struct err err = { 0 };
	const char *old_path, *new_path;
	int64_t number;

	tree = load_text("[devices/serial/0]\niobase = 0x3f8\nirq = 4\n"
			 "[devices/x/0]\npath = a.txt\n", 0, &diag);
	node = cfg_find(tree->root, "devices/x/0");
	ck_assert_int_eq(cfg_get_path(node, file_schema, "path", &old_path, &err), 0);
	ck_assert_int_eq(cfg_override(tree, "Devices/Serial/0/IOBase=0x2f8", &diag), 0);
	ck_assert_int_eq(cfg_override(tree, "devices/x/0/path = b.txt", &diag), 0);
	value = cfg_value_find(cfg_find(tree->root, "devices/serial/0"), "iobase");
	ck_assert_str_eq(value->text, "0x2f8");
	ck_assert_str_eq(value->origin, "-o");
	ck_assert_int_eq(value->line, 0);
	/* replaced in place: still the first value */
	ck_assert_ptr_eq(cfg_find(tree->root, "devices/serial/0")->values, value);
	ck_assert_int_eq(cfg_get_int(cfg_find(tree->root, "devices/serial/0"), serial_schema,
				     "iobase", &number, &err), 0);
	ck_assert_int_eq(number, 0x2f8);
	ck_assert_int_eq(cfg_get_path(node, file_schema, "path", &new_path, &err), 0);
	ck_assert_str_eq(new_path, "./b.txt");
	/* what a reader got before stays valid until cfg_free (valgrind checks this) */
	ck_assert_str_eq(old_path, "./a.txt");
	ck_assert_int_eq(diag.count, 0);
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(override_value_may_hold_slashes_and_equals_signs)
{
	struct cfg_tree *tree = cfg_new(NULL);
	struct cfg_diag diag;

	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_override(tree, "devices/serial/0/lun0/attached/path=out/a=b.txt",
				      &diag), 0);
	ck_assert_str_eq(text_of(tree, "devices/serial/0/lun0/attached", "path"), "out/a=b.txt");
	ck_assert_int_eq(cfg_override(tree, "boot/cmdline=", &diag), 0);
	ck_assert_str_eq(text_of(tree, "boot", "cmdline"), "");
	ck_assert_int_eq(diag.count, 0);
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(override_creates_a_new_section_that_must_be_claimed)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;
	struct cfg_node *node;

	tree = load_text("[vm]\n", 0, &diag);
	ck_assert_int_eq(cfg_override(tree, "devices/serial/0/irq=3", &diag), 0);
	node = cfg_find(tree->root, "devices/serial/0");
	ck_assert_ptr_nonnull(node);
	ck_assert_str_eq(node->origin, "-o");
	ck_assert_int_eq(node->line, 0);
	ck_assert_ptr_null(cfg_find(tree->root, "devices")->origin);
	cfg_claim(cfg_find(tree->root, "vm"));
	ck_assert_int_eq(cfg_report_unclaimed(tree, &diag), 1);
	ck_assert_int_eq(diag.count, 1);
	ck_assert_str_eq(diag.lines[0], "-o: devices/serial/0: unknown section");
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(malformed_override_is_reported)
{
	static const char *const bad[] = { "foo", "=x", "memory=64M", "/memory=1", "vm/=1",
					   "a//b/k=1", "vm/memory", "" };
	struct cfg_tree *tree = cfg_new(NULL);
	struct cfg_diag diag;
	char expected[64];
	size_t i;

	cfg_diag_init(&diag);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(cfg_override(tree, bad[i], &diag) == PDM_ERR_CFG,
			      "'%s' should be rejected", bad[i]);
		ck_assert_int_eq(diag.count, (int)i + 1);
		snprintf(expected, sizeof(expected), "-o: '%s': expected path/key=value", bad[i]);
		ck_assert_str_eq(diag.lines[i], expected);
	}
	/* nothing was set on the way */
	ck_assert_ptr_null(tree->root->first_child);
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(set_rejects_empty_keys_and_path_components)
{
	struct cfg_tree *tree = cfg_new(NULL);

	ck_assert_int_eq(cfg_set(tree, "vm", "", "1", NULL, 0), PDM_ERR_INVALID_ARG);
	ck_assert_int_eq(cfg_set(tree, "", "cpus", "1", NULL, 0), PDM_ERR_INVALID_ARG);
	ck_assert_int_eq(cfg_set(tree, "a//b", "k", "1", NULL, 0), PDM_ERR_INVALID_ARG);
	ck_assert_int_eq(cfg_set(tree, "a/", "k", "1", NULL, 0), PDM_ERR_INVALID_ARG);
	ck_assert_int_eq(cfg_set(tree, "/a", "k", "1", NULL, 0), PDM_ERR_INVALID_ARG);
	ck_assert_ptr_null(tree->root->first_child);
	ck_assert_int_eq(cfg_set(tree, "VM", "CPUs", "Two", "my.ini", 3), 0);
	ck_assert_str_eq(cfg_find(tree->root, "vm")->values->key, "cpus");
	ck_assert_str_eq(text_of(tree, "vm", "cpus"), "Two");
	ck_assert_str_eq(cfg_find(tree->root, "vm")->values->origin, "my.ini");
	cfg_free(tree);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Unclaimed sections */

START_TEST(unclaimed_section_is_reported_as_unknown)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;

	tree = load_text("[vm]\ncpus = 1\n[devices/serial/0]\n[devics/serial/0]\nirq = 3\n",
			 0, &diag);
	cfg_claim(cfg_find(tree->root, "vm"));
	cfg_claim(cfg_find(tree->root, "devices/serial/0"));
	ck_assert_int_eq(cfg_report_unclaimed(tree, &diag), 1);
	ck_assert_int_eq(diag.count, 1);
	/* its implicit parents devics and devics/serial are not reported */
	ck_assert_str_eq(diag.lines[0], "vm.ini:4: devics/serial/0: unknown section");
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(claimed_node_keeps_its_ancestors_quiet)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;

	tree = load_text("[devices]\n[devices/serial]\n[devices/serial/0]\n[vm]\n[boot]\n",
			 0, &diag);
	cfg_claim(cfg_find(tree->root, "devices/serial/0"));
	ck_assert_int_eq(cfg_report_unclaimed(tree, &diag), 2);
	ck_assert_int_eq(diag.count, 2);
	ck_assert_str_eq(diag.lines[0], "vm.ini:4: vm: unknown section");
	ck_assert_str_eq(diag.lines[1], "vm.ini:5: boot: unknown section");
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

START_TEST(every_unclaimed_section_is_reported)
{
	struct cfg_diag diag;
	struct cfg_tree *tree;

	tree = load_text("[a]\n[a/b]\n[c/d]\n", 0, &diag);
	ck_assert_int_eq(cfg_report_unclaimed(tree, &diag), 3);
	ck_assert_str_eq(diag.lines[0], "vm.ini:1: a: unknown section");
	ck_assert_str_eq(diag.lines[1], "vm.ini:2: a/b: unknown section");
	ck_assert_str_eq(diag.lines[2], "vm.ini:3: c/d: unknown section");
	cfg_diag_release(&diag);
	cfg_diag_init(&diag);
	ck_assert_int_eq(cfg_check_schema(cfg_find(tree->root, "c/d"), NULL, NULL, NULL, &diag), 0);
	ck_assert_int_eq(cfg_report_unclaimed(tree, &diag), 2);
	cfg_free(tree);
	cfg_diag_release(&diag);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Schema validation */

static int validate(const struct pdm_cfg_key *schema, struct err *err)
{
	err_clear(err);
	return cfg_schema_validate(schema, err);
}

START_TEST(valid_schemas_pass_validation)
{
	struct err err;

	ck_assert_int_eq(validate(serial_schema, &err), 0);
	ck_assert_int_eq(validate(file_schema, &err), 0);
	ck_assert_int_eq(validate(NULL, &err), 0);
	ck_assert_str_eq(err.msg, "");
}
END_TEST

START_TEST(schema_with_upper_case_name_is_rejected)
{
	const struct pdm_cfg_key schema[] = {
		{ .name = "irq", .type = PDM_CFG_INT },
		{ .name = "IOBase", .type = PDM_CFG_INT },
		{ 0 }
	};
	struct err err;

	ck_assert_int_eq(validate(schema, &err), PDM_ERR_ABI);
	ck_assert_int_eq(err.status, PDM_ERR_ABI);
	ck_assert_str_eq(err.msg, "config key 'IOBase': names must be lower case");
}
END_TEST

START_TEST(schema_with_bad_names_is_rejected)
{
	const struct pdm_cfg_key empty[] = { { .name = "", .type = PDM_CFG_INT }, { 0 } };
	const struct pdm_cfg_key slash[] = { { .name = "a/b", .type = PDM_CFG_INT }, { 0 } };
	const struct pdm_cfg_key twice[] = {
		{ .name = "irq", .type = PDM_CFG_INT },
		{ .name = "irq", .type = PDM_CFG_BOOL },
		{ 0 }
	};
	struct err err;

	ck_assert_int_eq(validate(empty, &err), PDM_ERR_ABI);
	ck_assert_str_eq(err.msg, "config key #0 has an empty name");
	ck_assert_int_eq(validate(slash, &err), PDM_ERR_ABI);
	ck_assert_str_eq(err.msg, "config key 'a/b': names may only use a-z, 0-9, '_', '-' "
			 "and '.'");
	ck_assert_int_eq(validate(twice, &err), PDM_ERR_ABI);
	ck_assert_str_eq(err.msg, "config key 'irq' is declared twice");
}
END_TEST

START_TEST(schema_with_bad_type_or_flags_is_rejected)
{
	const struct pdm_cfg_key invalid[] = { { .name = "a", .type = PDM_CFG_INVALID }, { 0 } };
	const struct pdm_cfg_key beyond[] = { { .name = "a", .type = 42 }, { 0 } };
	const struct pdm_cfg_key flags[] = { { .name = "a", .type = PDM_CFG_INT, .flags = 0x6 },
					     { 0 } };
	struct err err;

	ck_assert_int_eq(validate(invalid, &err), PDM_ERR_ABI);
	ck_assert_str_eq(err.msg, "config key 'a': invalid type 0");
	ck_assert_int_eq(validate(beyond, &err), PDM_ERR_ABI);
	ck_assert_str_eq(err.msg, "config key 'a': invalid type 42");
	ck_assert_int_eq(validate(flags, &err), PDM_ERR_ABI);
	ck_assert_str_eq(err.msg, "config key 'a': unknown flags 0x6");
}
END_TEST

START_TEST(schema_with_bad_default_is_rejected)
{
	const struct pdm_cfg_key not_int[] = {
		{ .name = "irq", .type = PDM_CFG_INT, .def = "four" }, { 0 }
	};
	const struct pdm_cfg_key out_of_range[] = {
		{ .name = "irq", .type = PDM_CFG_INT, .def = "16", .min = 0, .max = 15 }, { 0 }
	};
	const struct pdm_cfg_key not_bool[] = {
		{ .name = "on", .type = PDM_CFG_BOOL, .def = "maybe" }, { 0 }
	};
	const struct pdm_cfg_key required[] = {
		{ .name = "irq", .type = PDM_CFG_INT, .def = "ignored",
		  .flags = PDM_CFG_F_REQUIRED }, { 0 }
	};
	struct err err;

	ck_assert_int_eq(validate(not_int, &err), PDM_ERR_ABI);
	ck_assert_str_eq(err.msg, "config key 'irq': invalid default: expected an integer, "
			 "got 'four'");
	ck_assert_int_eq(validate(out_of_range, &err), PDM_ERR_ABI);
	ck_assert_str_eq(err.msg, "config key 'irq': invalid default: expected an integer in "
			 "[0, 15], got '16'");
	ck_assert_int_eq(validate(not_bool, &err), PDM_ERR_ABI);
	ck_assert_str_eq(err.msg, "config key 'on': invalid default: expected a boolean "
			 "(yes/no, true/false, on/off, 1/0), got 'maybe'");
	/* the default of a required key is ignored, so it is not checked either */
	ck_assert_int_eq(validate(required, &err), 0);
}
END_TEST

START_TEST(schema_lookup_is_case_insensitive)
{
	ck_assert_ptr_eq(cfg_schema_find(serial_schema, "irq"), &serial_schema[1]);
	ck_assert_ptr_eq(cfg_schema_find(serial_schema, "IOBASE"), &serial_schema[0]);
	ck_assert_ptr_null(cfg_schema_find(serial_schema, "speed"));
	ck_assert_ptr_null(cfg_schema_find(NULL, "irq"));
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("parsing");
	tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
	tcase_add_test(tc, sections_become_nodes_split_on_slashes);
	tcase_add_test(tc, children_and_values_keep_file_order);
	tcase_add_test(tc, names_are_folded_to_lower_case_and_values_are_not);
	tcase_add_test(tc, values_remember_their_file_and_line);
	tcase_add_test(tc, quotes_and_comments_follow_iniparser);
	tcase_add_test(tc, continued_lines_are_joined_and_indexed_at_their_first_line);
	tcase_add_test(tc, repeated_section_header_adds_to_the_same_node);
	tcase_add_test(tc, empty_file_gives_an_empty_tree);
	tcase_add_test(tc, tree_folder_is_the_folder_of_the_file);
	tcase_add_test(tc, unreadable_file_is_an_io_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("load problems");
	tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
	tcase_add_test(tc, syntax_error_is_reported_with_file_and_line_and_the_rest_still_loads);
	tcase_add_test(tc, syntax_errors_go_to_the_diag_not_to_stderr);
	tcase_add_test(tc, long_line_is_reported_and_the_rest_still_loads);
	tcase_add_test(tc, binary_junk_is_reported_without_crashing);
	tcase_add_test(tc, nul_byte_is_reported_as_such);
	tcase_add_test(tc, nul_byte_early_in_a_long_line_keeps_the_line_numbers_right);
	tcase_add_test(tc, key_outside_any_section_is_reported);
	tcase_add_test(tc, key_set_twice_is_reported_and_the_last_one_counts);
	tcase_add_test(tc, bad_section_names_are_reported_and_their_keys_skipped);
	tcase_add_test(tc, continuation_at_end_of_file_is_reported);
	tcase_add_test(tc, every_problem_in_a_file_is_reported_in_line_order);
	tcase_add_test(tc, diag_lines_leave_out_what_is_missing);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_test(tc, integers_parse_in_decimal_hex_and_octal);
	tcase_add_test(tc, integer_suffixes_multiply_by_powers_of_1024);
	tcase_add_test(tc, malformed_integers_are_rejected);
	tcase_add_test(tc, booleans_parse_in_every_spelling_and_case);
	tcase_add_test(tc, malformed_booleans_are_rejected);
	suite_add_tcase(s, tc);

	tc = tcase_create("schema checks");
	tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
	tcase_add_test(tc, valid_section_passes_the_check_and_is_claimed);
	tcase_add_test(tc, unknown_key_is_reported_with_file_and_line);
	tcase_add_test(tc, bad_integer_is_reported_with_file_and_line);
	tcase_add_test(tc, out_of_range_integer_reports_the_range);
	tcase_add_test(tc, every_problem_in_a_section_is_reported);
	tcase_add_test(tc, bad_boolean_and_empty_path_are_reported);
	tcase_add_test(tc, missing_required_key_is_reported_at_the_section_header);
	tcase_add_test(tc, extra_keys_are_accepted_and_listed_as_known);
	tcase_add_test(tc, section_without_keys_says_none_are_known);
	suite_add_tcase(s, tc);

	tc = tcase_create("getters");
	tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
	tcase_add_test(tc, getters_return_the_values_of_the_file);
	tcase_add_test(tc, getters_apply_the_schema_defaults);
	tcase_add_test(tc, optional_key_without_value_or_default_is_missing);
	tcase_add_test(tc, getter_for_a_key_outside_the_schema_is_a_programming_error);
	tcase_add_test(tc, getter_reports_a_bad_value_with_its_location);
	tcase_add_test(tc, getter_of_a_missing_required_key_names_the_section);
	tcase_add_test(tc, relative_path_is_resolved_against_the_ini_folder);
	tcase_add_test(tc, absolute_path_is_kept);
	tcase_add_test(tc, default_path_is_resolved_too_and_owned_by_the_tree);
	tcase_add_test(tc, new_tree_takes_relative_paths_from_the_current_folder);
	suite_add_tcase(s, tc);

	tc = tcase_create("overrides");
	tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
	tcase_add_test(tc, override_adds_a_new_key);
	tcase_add_test(tc, override_replaces_a_key_from_the_file);
	tcase_add_test(tc, override_value_may_hold_slashes_and_equals_signs);
	tcase_add_test(tc, override_creates_a_new_section_that_must_be_claimed);
	tcase_add_test(tc, malformed_override_is_reported);
	tcase_add_test(tc, set_rejects_empty_keys_and_path_components);
	suite_add_tcase(s, tc);

	tc = tcase_create("unclaimed sections");
	tcase_add_checked_fixture(tc, dir_setup, dir_teardown);
	tcase_add_test(tc, unclaimed_section_is_reported_as_unknown);
	tcase_add_test(tc, claimed_node_keeps_its_ancestors_quiet);
	tcase_add_test(tc, every_unclaimed_section_is_reported);
	suite_add_tcase(s, tc);

	tc = tcase_create("schema validation");
	tcase_add_test(tc, valid_schemas_pass_validation);
	tcase_add_test(tc, schema_with_upper_case_name_is_rejected);
	tcase_add_test(tc, schema_with_bad_names_is_rejected);
	tcase_add_test(tc, schema_with_bad_type_or_flags_is_rejected);
	tcase_add_test(tc, schema_with_bad_default_is_rejected);
	tcase_add_test(tc, schema_lookup_is_case_insensitive);
	suite_add_tcase(s, tc);

	return s;
}

int main(void)
{
	SRunner *runner = srunner_create(config_suite());
	int failed;

	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed ? 1 : 0;
}
