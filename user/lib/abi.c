// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * What a migration needs to know of state pinned by an older build: the
 * declared steps between ABI versions (abi_steps[]), and where the pinned
 * programs keep their counters, read from their own BTF. The migration
 * itself is migrate.c.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "internal.h"

/*
 * Where the counters the pinned programs write sit, from their own BTF
 * (struct ctaccel_stats): from[j], the old slot of this build's slot j, by
 * the counter's name (the gauges by state); -1 where the old layout has none
 * (a counter added since: 0 there). 1: this build's layout, 0: another one
 * (an older ABI's: the migration carries the counters), or -errno.
 */
int stats_layout(struct ctaccel *h, int *from)
{
	struct bpf_prog_info info = {};
	const struct btf_member *mem;
	const struct btf_type *t, *arr;
	__u32 len = sizeof(info), slot;
	int id, i, j, same = 1, gauges = -1, states = 0;
	const char *name;
	struct btf *btf;

	for (j = 0; j < CTACCEL_STATS_SLOTS; j++)
		from[j] = -1;
	if (bpf_obj_get_info_by_fd(h->fd[PIN_INGRESS], &info, &len))
		return lib_fail(h, -errno, "read %s", pin_name(PIN_INGRESS));
	btf = info.btf_id ? btf__load_from_kernel_by_id(info.btf_id) : NULL;
	if (!btf)
		return lib_fail(h, info.btf_id ? -errno : -ENOTSUP,
				"read the pinned programs' BTF (their counters' layout)");
	id = btf__find_by_name_kind(btf, "ctaccel_stats", BTF_KIND_STRUCT);
	t = id > 0 ? btf__type_by_id(btf, id) : NULL;
	for (i = 0, mem = t ? btf_members(t) : NULL; t && i < btf_vlen(t); i++, mem++) {
		name = btf__name_by_offset(btf, mem->name_off);
		slot = btf_member_bit_offset(t, i) / 64;
		if (name && !strcmp(name, "flows_in_state")) {
			arr = btf__type_by_id(btf, mem->type);
			states = arr && btf_is_array(arr) ? btf_array(arr)->nelems : 0;
			gauges = slot;
		}
		for (j = 0; name && j < CTACCEL_CTR__MAX; j++)
			if (!strcmp(name, ctaccel_counter_names[j]))
				from[j] = slot;
	}
	btf__free(btf);
	if (gauges < 0 || states != CTACCEL_ST__MAX) {
		pr_warn(h, "the pinned programs' counters have no per-state gauges ctaccel knows");
		return -EPROTO;
	}
	for (j = 0; j < CTACCEL_ST__MAX; j++)
		from[CTACCEL_CTR_SLOTS + j] = gauges + j;
	for (j = 0; j < CTACCEL_STATS_SLOTS; j++)
		same &= from[j] < 0 || from[j] == j;
	return same;
}

/* The old counters map's totals over the CPUs, in this build's slots. */
int stats_carried(struct ctaccel *h, const int *from, __s64 *out)
{
	int ncpus = libbpf_num_possible_cpus(), cpu, j, err = 0;
	__u64(*percpu)[CTACCEL_STATS_SLOTS];
	__u32 zero = 0;

	if (ncpus <= 0)
		return lib_fail(h, ncpus ?: -EINVAL, "count the CPUs");
	percpu = calloc(ncpus, sizeof(*percpu));
	if (!percpu)
		return lib_fail(h, -ENOMEM, "read the counters");
	if (bpf_map_lookup_elem(h->fd[PIN_STATS], &zero, percpu))
		err = lib_fail(h, -errno, "read the counters");
	for (j = 0; j < CTACCEL_STATS_SLOTS; j++) {
		out[j] = 0;
		for (cpu = 0; !err && from[j] >= 0 && cpu < ncpus; cpu++)
			out[j] += (__s64)percpu[cpu][from[j]];
	}
	free(percpu);
	return err;
}

/*
 * The declared migrations between ABI versions, one step per bump (N-1 -> N),
 * oldest first: state pinned by an ABI from the first step's `from` on is
 * carried to this one by the chain of steps (ctaccel_replace(), a daemon's
 * start), as one migration: every step's new entries are written by the move
 * program (bpf/migrate.bpf.h), which reads the old table as this ABI's
 * entries; the ring, its head and the table are always rebuilt. A step whose
 * flow entry differs in size needs its translation there and a `prev` table
 * of the old layout first (flow_size says which). Older state is refused:
 * unload first. The assertion below makes an ABI bump without its step a
 * build error.
 */
static const struct abi_step {
	uint32_t from;	    /* to: from + 1 */
	uint32_t flow_size; /* bytes of a flow entry at `from` */
	const char *change;
} abi_steps[] = {
	{5, 96,
	 "a ring slot keeps its flow's claim instead of its creation time (the ring is rebuilt); "
	 "a flow keeps its slot's claim in former padding, 0 there meaning none (the move "
	 "program gives each unanswered flow a slot of the new ring)"},
	{6, 96,
	 "the per-state gauges at a fixed slot (64), clear of the counters, so that a counter "
	 "added takes a reserved slot and moves nothing (until ABI 6 the gauges followed the "
	 "last counter: a build of ABI 6 before 2026-12-07 has six counters fewer); the "
	 "counters map is rebuilt, every counter and gauge carried by name"},
	{7, 96,
	 "the timeouts and the mark leave the programs' read-only configuration for a map of "
	 "their own, ctaccel_live, written live (their old places in the configuration are "
	 "zero); the migration makes the map with the state's before any program reads it"},
};

#define ABI_STEPS (sizeof(abi_steps) / sizeof(abi_steps[0]))
_Static_assert(ABI_STEPS > 0 && CTACCEL_ABI_VERSION == 5 + ABI_STEPS,
	       "each ABI bump declares its step in abi_steps[] (consecutive, from 5)");

bool abi_migratable(uint32_t abi)
{
	size_t i;

	if (abi < abi_steps[0].from || abi >= CTACCEL_ABI_VERSION)
		return false;
	for (i = abi - abi_steps[0].from; i < ABI_STEPS; i++)
		if (abi_steps[i].from != abi_steps[0].from + i ||
		    abi_steps[i].flow_size != sizeof(struct ctaccel_flow))
			return false; /* a gap, or no translation of the entry's layout yet */
	return true;
}

const char *abi_step_change(uint32_t from)
{
	return abi_migratable(from) ? abi_steps[from - abi_steps[0].from].change : "";
}
