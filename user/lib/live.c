// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Settings of a running instance (libctaccel.h, "live settings"): what the
 * state was loaded with, read back, and a change applied where it can be
 * without a new load.
 *
 * The timeouts are a map of their own, which the programs read like a
 * constant (no lookup: a data section, bpf/maps.bpf.h) and userspace writes
 * through its mmap, a word at a time: no program is loaded, so a caller
 * without CAP_PERFMON (the daemon once started) changes them too. A flow
 * takes a new timeout at its next packet, as nf_conntrack's flows take a
 * changed sysctl. The expiry pause is the timer's own setting.
 * The sizes of the table and the unreplied ring (max-flows, unreplied-max)
 * change by a migration to new maps under traffic (ctaccel_resize,
 * migrate.c), which keeps every flow. The mark is a word of the same map, and
 * nft's rule matches both marks while it changes, and with local on for as
 * long as a host socket holds the old one (mark_change()). `local` (the
 * hooks) and the cgroup take a new load: each is said, never dropped
 * silently.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include "internal.h"

const char *ctaccel_setting_not_live(const struct ctaccel_setting *s)
{
	if (s->live)
		return NULL;
	return "it takes a new load ('ctaccel unload', then 'ctaccel load'), which ends every "
	       "tracked flow";
}

int state_live(struct ctaccel *h, struct ctaccel_live *t)
{
	__u32 zero = 0;
	int i;

	memset(t, 0, sizeof(*t));
	if (h->fd[PIN_LIVE] < 0) {
		/* an older ABI's state, read to be migrated: its configuration */
		for (i = 0; i < CTACCEL_ST__MAX; i++)
			t->timeout[i] = h->cfg.timeout_abi7[i];
		t->unack = h->cfg.timeout_abi7[CTACCEL_ST__MAX];
		t->mark = ctaccel_mark_word(h->cfg.mark_abi7, h->cfg.mark_mask_abi7);
		return 0;
	}
	if (bpf_map_lookup_elem(h->fd[PIN_LIVE], &zero, t))
		return lib_fail(h, -errno, "read %s/%s", h->root, pin_name(PIN_LIVE));
	return 0;
}

/*
 * The timeouts, or the mark, into the pinned map, each word one aligned
 * 8-byte store (a packet reads a word's old value or its new one; a map
 * update's copy makes no such promise); for the timeouts, the generation odd
 * meanwhile and one more after (kernel expiry walks after a change:
 * bpf/expiry.bpf.h).
 */
static int live_write(struct ctaccel *h, const struct ctaccel_live *t, bool mark)
{
	long page = sysconf(_SC_PAGESIZE);
	struct ctaccel_live *m;
	__u64 gen;
	int i;

	m = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, h->fd[PIN_LIVE], 0);
	if (m == MAP_FAILED)
		return lib_fail(h, -errno, "map %s/%s", h->root, pin_name(PIN_LIVE));
	if (mark) {
		__atomic_store_n(&m->mark, t->mark, __ATOMIC_SEQ_CST);
		munmap(m, page);
		return 0;
	}
	gen = __atomic_load_n(&m->gen, __ATOMIC_RELAXED) | 1;
	__atomic_store_n(&m->gen, gen, __ATOMIC_SEQ_CST);
	for (i = 1; i < CTACCEL_ST__MAX; i++)
		__atomic_store_n(&m->timeout[i], t->timeout[i], __ATOMIC_RELAXED);
	__atomic_store_n(&m->unack, t->unack, __ATOMIC_RELAXED);
	__atomic_store_n(&m->gen, gen + 1, __ATOMIC_RELEASE);
	munmap(m, page);
	return 0;
}

int ctaccel_state_opts(struct ctaccel *h, struct ctaccel_load_opts *o)
{
	struct ctaccel_live t;
	const struct ctaccel_config *cfg = &h->cfg;
	struct ctaccel_expiry_status x;
	int err;

	if (!h->open)
		return lib_fail(h, -EBADF, "settings of %s", h->root);
	if (!cfg->hz)
		return lib_fail(h, -EPROTO, "settings of %s: no HZ in its configuration", h->root);
	err = ctaccel_expiry_status(h, &x);
	err = err ?: state_live(h, &t);
	if (err)
		return err;
	ctaccel_load_opts_default(o);
	o->max_flows = h->max_flows;
	o->unreplied_max = cfg->unreplied_max;
	o->mark = ctaccel_mark_value(t.mark);
	o->mark_mask = ctaccel_mark_mask(t.mark);
	o->local = !(cfg->flags & CTACCEL_CFG_NO_LOCAL);
	o->cgroup[0] = 0; /* not kept in the state */
	o->expiry_interval_ms = x.interval_ms;
	timeouts_out(&t, cfg->hz, o);
	return 0;
}

/* Settings that differ, at most one per key of the load settings. */
#define MAX_CHANGES 32

struct diff_walk {
	const struct ctaccel_load_opts *was, *asked;
	struct ctaccel_setting_ref ref[MAX_CHANGES];
	char text[MAX_CHANGES][2][160];
	size_t n;
};

static int diff_one(const struct ctaccel_setting_ref *ref, void *ctx)
{
	struct diff_walk *w = ctx;
	char a[160], b[160];

	/* the cgroup is not kept in the state: nothing to compare */
	if (ref->s->type == CTACCEL_SETTING_PATH)
		return 0;
	if (ctaccel_setting_format(ref, w->was, 0, a, sizeof(a)) ||
	    ctaccel_setting_format(ref, w->asked, 0, b, sizeof(b)) || !strcmp(a, b))
		return 0;
	if (w->n == MAX_CHANGES)
		return -E2BIG;
	w->ref[w->n] = *ref;
	memcpy(w->text[w->n][0], a, sizeof(a));
	memcpy(w->text[w->n][1], b, sizeof(b));
	w->n++;
	return 0;
}

static bool is_timeout(const struct ctaccel_setting *s)
{
	return s->off == offsetof(struct ctaccel_load_opts, timeout_s);
}

static bool is_expiry(const struct ctaccel_setting *s)
{
	return s->off == offsetof(struct ctaccel_load_opts, expiry_interval_ms);
}

static bool is_size(const struct ctaccel_setting *s)
{
	return s->off == offsetof(struct ctaccel_load_opts, max_flows) ||
	       s->off == offsetof(struct ctaccel_load_opts, unreplied_max);
}

static bool is_mark(const struct ctaccel_setting *s)
{
	return s->off == offsetof(struct ctaccel_load_opts, mark);
}

/* Why the mark cannot change now, or NULL. A gateway's (local off): tc marks
 * a packet, and netfilter's raw prerouting hook sees it, in one RCU read
 * section. With local on, the host's sockets hold the mark sock_ops or the
 * UDP hooks gave them: a walk of them moves them or counts them, see
 * mark_change(), with an iterator lent to the handle or one to load. */
static const char *mark_kept(const struct ctaccel *h, const char *no_load)
{
	if (h->cfg.flags & CTACCEL_CFG_NO_LOCAL || !no_load || h->walker)
		return NULL;
	return "with local on, the host's sockets that hold the mark are walked, and the walk "
	       "is a program to load: set it in the daemon's configuration, which applies it "
	       "at the daemon's start, or with 'ctaccel set mark'";
}

static const char *const holder_names[CTACCEL_MH__MAX] = {
	[CTACCEL_MH_TCP] = "TCP",
	[CTACCEL_MH_TIME_WAIT] = "TIME_WAIT",
	[CTACCEL_MH_REQUEST] = "SYN_RECV",
	[CTACCEL_MH_UDP] = "UDP",
};

/* "3 TIME_WAIT, 1 UDP" into buf: the sockets that hold a mark; its total. */
static uint64_t holders_text(const uint64_t held[CTACCEL_MH__MAX], char *buf, size_t len)
{
	size_t used = 0;
	uint64_t sum = 0;
	int k;

	buf[0] = 0;
	for (k = 0; k < CTACCEL_MH__MAX; k++) {
		if (!held[k])
			continue;
		sum += held[k];
		if (used < len)
			used += snprintf(buf + used, len - used, "%s%llu %s", used ? ", " : "",
					 (unsigned long long)held[k], holder_names[k]);
	}
	return sum;
}

/*
 * The table's marks other than `live` (others, n) walked: each full TCP
 * socket that holds one takes `live`, and the table keeps matching those a
 * socket still holds (TIME_WAIT, SYN_RECV and UDP sockets keep theirs until
 * they close) and no more. held: their holders, summed. The number of marks
 * kept.
 */
static int marks_walk(struct ctaccel *h, struct ctaccel_sockiter *it, __u64 live,
		      const __u64 *others, int n, uint64_t held[CTACCEL_MH__MAX])
{
	__u64 keep[CTACCEL_NFT_MAX_MARKS + 1] = {live};
	uint64_t one[CTACCEL_MH__MAX], moved;
	int i, k, kept = 0, err = 0;
	char what[128];

	memset(held, 0, CTACCEL_MH__MAX * sizeof(*held));
	for (i = 0; i < n; i++) {
		err = ctaccel_sockiter_marks(it, others[i], live, one, &moved);
		if (err)
			return err;
		if (moved)
			pr_info(h, "%llu TCP sockets moved from mark 0x%x/0x%x to 0x%x/0x%x",
				(unsigned long long)moved, ctaccel_mark_value(others[i]),
				ctaccel_mark_mask(others[i]), ctaccel_mark_value(live),
				ctaccel_mark_mask(live));
		if (!holders_text(one, what, sizeof(what))) {
			pr_info(h,
				"table inet ctaccel no longer matches mark 0x%x/0x%x: no socket "
				"holds it",
				ctaccel_mark_value(others[i]), ctaccel_mark_mask(others[i]));
			continue;
		}
		pr_info(h, "table inet ctaccel still matches mark 0x%x/0x%x: %s sockets hold it",
			ctaccel_mark_value(others[i]), ctaccel_mark_mask(others[i]), what);
		for (k = 0; k < CTACCEL_MH__MAX; k++)
			held[k] += one[k];
		keep[++kept] = others[i];
	}
	if (kept < n)
		err = nft_install_marks(h, keep, kept + 1);
	return err ?: kept;
}

int ctaccel_mark_retire(struct ctaccel *h, struct ctaccel_sockiter *it,
			uint64_t held[CTACCEL_MH__MAX])
{
	__u64 others[CTACCEL_NFT_MAX_MARKS] = {0};
	struct ctaccel_sockiter *own = NULL;
	struct ctaccel_live t;
	int n, err;

	memset(held, 0, CTACCEL_MH__MAX * sizeof(*held));
	err = state_live(h, &t);
	n = err ?: nft_table_marks(h, t.mark, others, CTACCEL_NFT_MAX_MARKS);
	if (n <= 0)
		return n == -ENOENT || n == -EINVAL ? 0 : n;
	it = it ?: h->walker;
	if (!it) {
		err = ctaccel_sockiter_new(h, &own);
		if (err)
			return err;
		it = own;
	}
	err = marks_walk(h, it, t.mark, others, n, held);
	ctaccel_sockiter_free(own);
	return err;
}

/*
 * The bypass mark from `was` to `want` under traffic: table inet ctaccel (if
 * installed) matches both, the datapath takes the new one, an RCU grace
 * period lets every packet tc marked with the old one pass the raw hook (tc
 * ingress and that hook run in one RCU read section; sock_ops and the UDP
 * hooks run in one too), and the table matches the new one only.
 *
 * With local on, the host's sockets that hold the old mark are walked
 * (marks_walk()): a full TCP socket takes the new one, listeners included;
 * the table keeps matching the old one while a TIME_WAIT or SYN_RECV socket
 * holds it, and `ctaccel set` or the daemon's repair retires it once none
 * does (ctaccel_mark_retire()). A UDP socket's mark cannot be rewritten, and
 * ctaccel decides a UDP flow by the mark in force (flow_create(): its
 * datagrams would skip nf_conntrack while ctaccel has nf_conntrack track it):
 * while one holds the old mark the change is refused, with the numbers. One
 * the UDP hooks mark between that look and the new word is found by the walk
 * after it, and said like the others (the table keeps its mark, status shows
 * it) until it closes.
 */
static int mark_change(struct ctaccel *h, __u64 was, __u64 want)
{
	struct ctaccel_live t = {.mark = want};
	__u64 marks[CTACCEL_NFT_MAX_MARKS + 2] = {want};
	uint64_t held[CTACCEL_MH__MAX], moved;
	bool table = ctaccel_nft_present(h), local = !(h->cfg.flags & CTACCEL_CFG_NO_LOCAL);
	struct ctaccel_sockiter *it = h->walker, *own = NULL;
	int n = 0, i, err = 0;

	if (local) {
		if (!it) {
			err = ctaccel_sockiter_new(h, &own);
			it = own;
		}
		err = err ?: ctaccel_sockiter_marks(it, was, 0, held, &moved);
		if (!err && held[CTACCEL_MH_UDP]) {
			err = -EBUSY;
			bool one = held[CTACCEL_MH_UDP] == 1;

			pr_warn(h,
				"%llu UDP socket%s the mark 0x%x/0x%x (bound or connected where "
				"a rule covers %s), and a UDP socket's mark cannot be rewritten: "
				"%s datagrams would skip nf_conntrack while ctaccel has it track "
				"%s flows. Close %s first, or it takes a new load",
				(unsigned long long)held[CTACCEL_MH_UDP], one ? " holds" : "s hold",
				ctaccel_mark_value(was), ctaccel_mark_mask(was),
				one ? "it" : "them", one ? "its" : "their", one ? "its" : "their",
				one ? "it" : "them");
		}
		if (err)
			goto out;
	}
	if (table) {
		/* the older marks the table keeps for their holders, if any */
		n = nft_table_marks(h, was, marks + 1, CTACCEL_NFT_MAX_MARKS);
		n = n < 0 ? 0 : n;
		if (n == CTACCEL_NFT_MAX_MARKS) {
			err = -EBUSY;
			pr_warn(h,
				"table inet ctaccel keeps %d older marks for the sockets that "
				"hold them: 'ctaccel set' retires each once none does",
				n);
			goto out;
		}
		for (i = 1; i <= n && marks[i] != want; i++)
			;
		if (i <= n)
			marks[i] = was; /* back to the one it was */
		else
			marks[++n] = was;
		err = nft_install_marks(h, marks, n + 1);
	}
	err = err ?: live_write(h, &t, true);
	if (err)
		goto out;
	err = programs_settle();
	if (!err && table && !local)
		err = nft_install_marks(h, &want, 1);
	else if (!err && local)
		/* the table, if any, keeps the marks still held */
		err = table ? marks_walk(h, it, want, marks + 1, n, held)
			    : ctaccel_sockiter_marks(it, was, want, held, &moved);
	if (err < 0)
		pr_warn(h,
			"the mark is 0x%x/0x%x now, but table inet ctaccel still matches the old "
			"one, 0x%x/0x%x, too: packets with those bits skip nf_conntrack",
			ctaccel_mark_value(want), ctaccel_mark_mask(want), ctaccel_mark_value(was),
			ctaccel_mark_mask(was));
out:
	ctaccel_sockiter_free(own);
	return err < 0 ? err : 0;
}

/* Why the table cannot migrate now, or NULL. A running daemon holds the
 * table it opened: the migration is its own, at its start. */
static const char *size_kept(struct ctaccel *h, const char *no_load)
{
	int pid;

	if (no_load)
		return no_load;
	pid = ctaccel_daemon_pid(h);
	if (pid && pid != getpid())
		return "the ctaccel daemon runs on this state and holds its table: set it in the "
		       "daemon's configuration, which migrates the table when the daemon starts";
	return NULL;
}

const char *ctaccel_setting_kept(struct ctaccel *h, const struct ctaccel_setting *s,
				 const char *no_load)
{
	const char *why = ctaccel_setting_not_live(s);

	if (!why && is_size(s))
		why = size_kept(h, no_load);
	if (!why && is_mark(s))
		why = mark_kept(h, no_load);
	return why;
}

int ctaccel_apply(struct ctaccel *h, const struct ctaccel_load_opts *asked, const char *no_load,
		  ctaccel_change_fn fn, void *ctx, unsigned int *kept)
{
	struct ctaccel_load_opts was, want = *asked;
	struct ctaccel_live t, t_was;
	struct diff_walk *w;
	bool timeouts = false, expiry = false, size = false, mark = false;
	struct ctaccel_migration m;
	const char *size_why;
	char why[256];
	size_t i;
	int err;

	*kept = 0;
	err = ctaccel_state_opts(h, &was);
	if (err)
		return err;
	if (ctaccel_load_opts_check(asked, why, sizeof(why))) {
		pr_warn(h, "%s", why);
		return -EINVAL;
	}
	/* "auto" asks for the number of slots it gives */
	want.unreplied_max = ctaccel_unreplied_slots(asked);
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->was = &was;
	w->asked = &want;
	err = ctaccel_settings_each(ctaccel_load_settings, diff_one, w);
	if (err) {
		lib_fail(h, err, "compare the settings");
		goto out;
	}
	for (i = 0; i < w->n; i++) {
		timeouts |= w->ref[i].s->live && is_timeout(w->ref[i].s);
		expiry |= w->ref[i].s->live && is_expiry(w->ref[i].s);
		size |= is_size(w->ref[i].s);
		mark |= is_mark(w->ref[i].s) && !mark_kept(h, no_load);
	}
	size_why = size ? size_kept(h, no_load) : NULL;
	if (size && !size_why) {
		err = ctaccel_resize(h, want.max_flows, want.unreplied_max, &m);
		if (err)
			goto out;
		pr_info(h, "migrated %u flows to a table of %u in %.1f ms (%u passes, %u ended)",
			m.moved, want.max_flows, m.duration_ns / 1e6, m.passes, m.conflicts);
	}
	if (mark) {
		/* before the timeouts and the pause: a failure before its word is
		 * written leaves them as they were (a failure after is said as it
		 * stands) */
		err = state_live(h, &t_was);
		err = err
			      ?: mark_change(h, t_was.mark,
					     ctaccel_mark_word(want.mark, want.mark_mask));
		if (err)
			goto out;
	} else if ((!no_load || h->walker) && !(h->cfg.flags & CTACCEL_CFG_NO_LOCAL)) {
		/* older marks the table keeps, retired when no socket holds them;
		 * a walk that fails (said) leaves them, and the change goes on */
		uint64_t held[CTACCEL_MH__MAX];

		ctaccel_mark_retire(h, NULL, held);
	}
	if (timeouts) {
		/* every timeout at once, the generation once */
		err = state_live(h, &t_was);
		if (err)
			goto out;
		t = t_was;
		timeouts_in(&t, h->cfg.hz, &want);
		err = live_write(h, &t, false);
		if (err)
			goto out;
	}
	if (expiry) {
		err = ctaccel_expiry_set(h, want.expiry_interval_ms);
		if (err) {
			/* nothing changed: the timeouts go back too */
			if (timeouts)
				live_write(h, &t_was, false);
			goto out;
		}
	}
	for (i = 0; i < w->n; i++) {
		struct ctaccel_setting_change c = {
			.ref = &w->ref[i],
			.was = w->text[i][0],
			.asked = w->text[i][1],
			.kept = ctaccel_setting_kept(h, w->ref[i].s, no_load),
		};

		*kept += c.kept != NULL;
		if (fn)
			fn(&c, ctx);
	}
out:
	free(w);
	return err;
}
