/*
 * pdm/check.c - checking the [devices/...] part of a config tree against the types
 * and schemas the loaded modules registered, without constructing anything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pdm/pdm.h"

static const char *const pdm_link_keys[] = { "driver", NULL };

static const char *pdm_origin(struct cfg_node *node)
{
	return node->origin ? node->origin : "?";
}

/* A lun<N> or attached section and everything below it. */
static int pdm_check_link(struct pdm_registry *registry, struct cfg_node *node,
			  struct cfg_diag *diag)
{
	struct cfg_value *value = cfg_value_find(node, "driver");
	struct pdm_drv_type *type;
	char owner[64];
	int status = 0;

	cfg_claim(node);
	if (!value) {
		cfg_diag_add(diag, pdm_origin(node), node->line, node->path,
			     "no 'driver' key (which driver is attached here?)");
		return PDM_ERR_CFG;
	}
	value->is_used = true;
	type = pdm_registry_find_drv(registry, value->text);
	if (!type) {
		cfg_diag_add(diag, value->origin, value->line, node->path,
			     "unknown driver '%s' (see `modvm plugins`)", value->text);
		return PDM_ERR_CFG;
	}
	snprintf(owner, sizeof(owner), "driver '%s'", type->reg.name);
	if (cfg_check_schema(node, type->reg.config, pdm_link_keys, owner, diag))
		status = PDM_ERR_CFG;
	for (struct cfg_node *child = node->first_child; child; child = child->next_sibling)
		if (!strcmp(child->name, "attached") && pdm_check_link(registry, child, diag))
			status = PDM_ERR_CFG;
	return status;
}

static bool pdm_is_lun_name(const char *name)
{
	if (strncmp(name, "lun", 3) || !name[3])
		return false;
	for (const char *p = name + 3; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return strlen(name + 3) <= 9;
}

static bool pdm_is_instance_name(const char *name)
{
	if (!*name || strlen(name) > 9)
		return false;
	for (const char *p = name; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

int pdm_check_config(struct pdm_registry *registry, struct cfg_node *root, struct cfg_diag *diag)
{
	struct cfg_node *devices = cfg_find(root, "devices");
	int status = 0;

	if (!devices)
		return 0;
	cfg_claim(devices);
	for (struct cfg_node *tnode = devices->first_child; tnode; tnode = tnode->next_sibling) {
		struct pdm_dev_type *type = pdm_registry_find_dev(registry, tnode->name);
		char owner[64];

		if (!type) {
			/* Report the first section of the unknown type, where the user wrote it. */
			struct cfg_node *at = tnode->line ? tnode : tnode->first_child ? tnode->first_child : tnode;

			cfg_diag_add(diag, pdm_origin(at), at->line, tnode->path,
				     "unknown device type '%s' (see `modvm plugins`)", tnode->name);
			status = PDM_ERR_CFG;
			cfg_claim(tnode);
			for (struct cfg_node *n = tnode->first_child; n; n = n->next_sibling)
				cfg_claim(n);
			continue;
		}
		cfg_claim(tnode);
		if (tnode->values) {
			cfg_diag_add(diag, tnode->values->origin, tnode->values->line, tnode->path,
				     "keys belong in an instance section such as [%s/0]", tnode->path);
			status = PDM_ERR_CFG;
		}
		snprintf(owner, sizeof(owner), "device '%s'", type->reg.name);
		for (struct cfg_node *inode = tnode->first_child; inode; inode = inode->next_sibling) {
			if (!pdm_is_instance_name(inode->name)) {
				cfg_diag_add(diag, pdm_origin(inode), inode->line, inode->path,
					     "'%s' is not an instance number", inode->name);
				status = PDM_ERR_CFG;
				cfg_claim(inode);
				continue;
			}
			if (cfg_check_schema(inode, type->reg.config, NULL, owner, diag))
				status = PDM_ERR_CFG;
			for (struct cfg_node *lnode = inode->first_child; lnode;
			     lnode = lnode->next_sibling)
				if (pdm_is_lun_name(lnode->name) &&
				    pdm_check_link(registry, lnode, diag))
					status = PDM_ERR_CFG;
		}
	}
	return status;
}
