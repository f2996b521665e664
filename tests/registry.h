/*
 * tests/registry.h - the plugin registry the KVM suites share: the built-in plugins
 * of the build tree plus the sink and recorder test plugins.
 */
#ifndef TESTS_REGISTRY_H
#define TESTS_REGISTRY_H

#include "pdm/pdm.h"

/* Initialises registry and loads them; fails the running test if any cannot load. */
void tu_load_registry(struct pdm_registry *registry);

#endif
