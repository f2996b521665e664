/*
 * vmm/cpuid.c - the CPUID each vCPU sees: what KVM supports, plus the topology of
 * this VM.
 *
 * KVM_GET_SUPPORTED_CPUID describes the host's features, but its topology leaves are
 * the host's or empty: every vCPU would claim the same initial APIC id and the host's
 * core count. A guest OS matches CPUID's APIC ids against the MP table and its local
 * APICs, so each vCPU gets its own: vCPU n has APIC id n (KVM gives its local APIC
 * that id too), and the VM is one package of count cores with one thread each.
 * The paravirtual leaves (0x40000000...) are KVM's, with the feature set QEMU gives
 * any CPU model by default: kvm-clock (and its stable bit), no port-0x80 delay, async
 * page faults, steal time and paravirtual EOI. These work through MSRs. The features
 * that make the guest issue hypercalls (paravirtual IPIs, spinlock kicks, yields,
 * TLB flushes) are left out, as QEMU leaves them out unless asked: a nested KVM that
 * emulates guest ring 0 (kvm_pvm) patches and re-runs VMCALL forever, which hung
 * Linux bringing up its second CPU (a paravirtual IPI from the AP). [vm] kvm_pv = host
 * offers them all, as QEMU's -cpu host does, for hosts where VMCALL works.
 */
#include <string.h>

#include "vmm/kvm.h"

/* CPUID.1 */
#define CPUID1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID1_ECX_HYPERVISOR   (1u << 31)
#define CPUID1_EDX_HTT          (1u << 28)

/* CPUID.0x40000001 EAX: KVM_FEATURE_* bits kept (see the top). */
#define KVM_PV_CLOCKSOURCE      (1u << 0)
#define KVM_PV_NOP_IO_DELAY     (1u << 1)
#define KVM_PV_CLOCKSOURCE2     (1u << 3)
#define KVM_PV_ASYNC_PF         (1u << 4)
#define KVM_PV_STEAL_TIME       (1u << 5)
#define KVM_PV_EOI              (1u << 6)
#define KVM_PV_CLOCKSOURCE_STABLE (1u << 24)
#define KVM_PV_DEFAULT (KVM_PV_CLOCKSOURCE | KVM_PV_NOP_IO_DELAY | KVM_PV_CLOCKSOURCE2 | \
			KVM_PV_ASYNC_PF | KVM_PV_STEAL_TIME | KVM_PV_EOI | \
			KVM_PV_CLOCKSOURCE_STABLE)

/* Leaf 0xB / 0x1F level types (ECX[15:8]). */
#define TOPO_LEVEL_INVALID 0u
#define TOPO_LEVEL_SMT     1u
#define TOPO_LEVEL_CORE    2u

/* The smallest number of bits that holds the ids 0 .. count - 1. */
static unsigned cpuid_id_bits(unsigned count)
{
	unsigned bits = 0;

	while ((1u << bits) < count)
		bits++;
	return bits;
}

static bool cpuid_is_amd(const struct kvm_cpuid2 *supported)
{
	for (uint32_t i = 0; i < supported->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &supported->entries[i];

		/* "AuthenticAMD" and Hygon's "HygonGenuine" share AMD's topology leaves. */
		if (e->function == 0)
			return (e->ebx == 0x68747541 && e->edx == 0x69746e65 && e->ecx == 0x444d4163) ||
			       (e->ebx == 0x6f677948 && e->edx == 0x6e65476e && e->ecx == 0x656e6975);
	}
	return false;
}

static uint32_t cpuid_max_basic(const struct kvm_cpuid2 *supported)
{
	for (uint32_t i = 0; i < supported->nent; i++)
		if (supported->entries[i].function == 0)
			return supported->entries[i].eax;
	return 0;
}

static bool cpuid_has_leaf(const struct kvm_cpuid2 *supported, uint32_t function)
{
	for (uint32_t i = 0; i < supported->nent; i++)
		if (supported->entries[i].function == function)
			return true;
	return false;
}

/* Leaf 0xB or 0x1F, sub-leaves 0 (thread), 1 (core) and 2 (the end of the list). */
static void cpuid_add_topology(struct kvm_cpuid2 *out, uint32_t function, unsigned id,
			       unsigned count)
{
	const struct kvm_cpuid_entry2 levels[] = {
		/* One thread per core: no bits for the thread. */
		{ .eax = 0, .ebx = 1, .ecx = (TOPO_LEVEL_SMT << 8) | 0 },
		/* EAX: shifting the x2APIC id right by this gives the package id. */
		{ .eax = cpuid_id_bits(count), .ebx = count, .ecx = (TOPO_LEVEL_CORE << 8) | 1 },
		{ .eax = 0, .ebx = 0, .ecx = (TOPO_LEVEL_INVALID << 8) | 2 },
	};

	for (uint32_t sub = 0; sub < 3; sub++) {
		struct kvm_cpuid_entry2 *e = &out->entries[out->nent++];

		*e = levels[sub];
		e->function = function;
		e->index = sub;
		e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		e->edx = id;            /* this vCPU's x2APIC id, at every level */
	}
}

int cpuid_build(const struct kvm_cpuid2 *supported, unsigned id, unsigned count,
		bool has_tsc_deadline, bool has_all_pv, struct kvm_cpuid2 *out, uint32_t room)
{
	uint32_t max_basic = cpuid_max_basic(supported);
	bool is_amd = cpuid_is_amd(supported);
	/* Fields that count logical processors or cores hold a power of two. */
	unsigned span = 1u << cpuid_id_bits(count);

	if (count == 0 || id >= count || supported->nent + 6 > room)
		return PDM_ERR_INVALID_ARG;
	out->nent = 0;
	out->padding = 0;
	for (uint32_t i = 0; i < supported->nent; i++) {
		struct kvm_cpuid_entry2 e = supported->entries[i];

		switch (e.function) {
		case 0x1:
			/* EBX[31:24] initial APIC id, EBX[23:16] logical processors per package. */
			e.ebx = (e.ebx & 0xffffu) | ((uint32_t)(span > 255 ? 255 : span) << 16) |
				((uint32_t)id << 24);
			if (count > 1)
				e.edx |= CPUID1_EDX_HTT;        /* EBX[23:16] is valid */
			else
				e.edx &= ~CPUID1_EDX_HTT;
			e.ecx |= CPUID1_ECX_HYPERVISOR;
			/* The in-kernel LAPIC emulates the deadline mode when KVM says so. */
			if (has_tsc_deadline)
				e.ecx |= CPUID1_ECX_TSC_DEADLINE;
			else
				e.ecx &= ~CPUID1_ECX_TSC_DEADLINE;
			break;
		case 0x4:
			/* Deterministic cache parameters: cores per package, threads per cache. */
			if (e.eax & 0x1f) {
				unsigned level = (e.eax >> 5) & 0x7;
				unsigned sharing = level >= 3 ? span : 1;

				e.eax = (e.eax & 0x3ffu) | ((uint32_t)(sharing - 1) << 14) |
					((uint32_t)((span > 64 ? 64 : span) - 1) << 26);
			}
			break;
		case 0xb:
		case 0x1f:
			continue;       /* rebuilt below */
		case 0x40000001:
			if (!has_all_pv)
				e.eax &= KVM_PV_DEFAULT;
			break;
		case 0x80000008:
			/* AMD: ECX[7:0] cores - 1, ECX[15:12] APIC id bits for the core. */
			if (is_amd)
				e.ecx = (e.ecx & ~0xf0ffu) | ((count - 1) & 0xff) |
					(cpuid_id_bits(count) << 12);
			break;
		case 0x8000001e:
			/* AMD: extended APIC id, core id (one thread each), node 0 of 1. */
			if (is_amd) {
				e.eax = id;
				e.ebx = (e.ebx & ~0xffffu) | (id & 0xff);
				e.ecx = 0;
			}
			break;
		default:
			break;
		}
		out->entries[out->nent++] = e;
	}
	if (max_basic >= 0xb)
		cpuid_add_topology(out, 0xb, id, count);
	/* 0x1F only where the host has it: it extends 0xB, and says the same here. */
	if (max_basic >= 0x1f && cpuid_has_leaf(supported, 0x1f))
		cpuid_add_topology(out, 0x1f, id, count);
	return 0;
}
