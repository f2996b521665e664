/*
 * modvm/interface.h - the base interface every link of a LUN chain exposes.
 *
 * A LUN chain is device -> driver -> driver ...; neighbours know each other only
 * through a struct pdm_ibase, from which they ask for the interface tables they need
 * by string id (the *_IID macros). An implementation embeds its interface tables in
 * its instance data and finds its way back with PDM_CONTAINER_OF. A query for an id
 * the link does not implement returns NULL; the caller then fails its construction
 * with PDM_ERR_NO_INTERFACE and names the id.
 */
#ifndef MODVM_INTERFACE_H
#define MODVM_INTERFACE_H

#include <stddef.h>

#define PDM_CONTAINER_OF(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* Symbol visibility for the module's entry points (plugins build -fvisibility=hidden). */
#define PDM_EXPORT __attribute__((visibility("default")))

#define PDM_IBASE_IID "modvm.ibase.v1"

struct pdm_ibase {
	/*
	 * Returns the interface table named by iid, or NULL. Called on any thread, but only
	 * while the chain is being constructed (links keep the pointers they get).
	 * Asking for PDM_IBASE_IID returns the base itself.
	 */
	void *(*query_interface)(struct pdm_ibase *base, const char *iid);
};

/* Convenience: query an interface from a base that may be NULL. */
static inline void *pdm_ibase_query(struct pdm_ibase *base, const char *iid)
{
	return base && base->query_interface ? base->query_interface(base, iid) : NULL;
}

#endif
