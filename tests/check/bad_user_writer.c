// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Bad on purpose: what the user-writer check must report (each line marked
 * "expect: user-writer") and what it must let pass. Never built.
 */
#include <bpf/bpf.h>
#include "ctaccel.h"
#include "internal.h"

struct reader {
	int stats_fd;
};

int bad_writes(struct ctaccel *h, struct reader *r, const struct ctaccel_flow_key *key)
{
	struct ctaccel_flow_key k = *key;
	struct ctaccel_flow f = {};
	struct ctaccel_policy_gen g = {};
	int flows = h->fd[PIN_FLOWS], fd;
	__u32 zero = 0, n = 1;

	/* a write-back: erases what the datapath counted meanwhile */
	bpf_map_lookup_elem(flows, &k, &f);
	f.leg[0].packets = 0;
	bpf_map_update_elem(flows, &k, &f, BPF_EXIST); /* expect: user-writer */
	bpf_map_delete_elem(h->fd[PIN_FLOWS], &k);     /* expect: user-writer */
	r->stats_fd = pin_get(h, PIN_STATS);
	bpf_map_delete_elem(r->stats_fd, &zero); /* expect: user-writer */
	fd = pin_get(h, PIN_UNREPLIED_HEAD);
	bpf_map_update_batch(fd, &zero, &n, &n, NULL); /* expect: user-writer */
	fd = bpf_obj_get("/sys/fs/bpf/elsewhere");
	bpf_map_delete_elem(fd, &k); /* expect: user-writer */
	/* userspace is the one writer of the policy generation */
	return bpf_map_update_elem(h->fd[PIN_POLICY_GEN], &zero, &g, BPF_ANY);
}
