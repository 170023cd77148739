// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Flow events (ctaccel monitor): the datapath writes them to a ring buffer
 * while some monitor keeps ctaccel_monitor.until in the future. A monitor
 * pushes it a few seconds ahead every second, so that events stop soon after
 * the monitor is gone, whichever way it went. A ring has one reader: a
 * second monitor on the same state is refused (an flock on the ring's pin).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

const char *const ctaccel_event_names[CTACCEL_EV__MAX] = {
#define X(name, v) [v] = #name,
	CTACCEL_EVENT_TYPES(X)
#undef X
};

const char *const ctaccel_destroy_reason_names[CTACCEL_GONE__MAX] = {
#define X(name, v) [v] = #name,
	CTACCEL_DESTROY_REASONS(X)
#undef X
};

#define HEARTBEAT_S 1 /* how often `until` is pushed ahead */
#define LEASE_S	    3 /* how far ahead */

struct ctaccel_monitor_h {
	struct ctaccel *h;
	struct ring_buffer *rb;
	int monitor_fd;
	int lock_fd;
	bool discard; /* events from before this monitor started */
	ctaccel_event_fn fn;
	void *ctx;
	uint64_t next_beat; /* jiffies */
	/* the datapath's clock and the wall clock at one moment: an event's
	 * jiffies become its time */
	uint64_t jiffies0;
	double real0;
};

static int beat(struct ctaccel_monitor_h *m)
{
	struct ctaccel_monitor v = {};
	uint64_t now;
	__u32 zero = 0;
	int err = clock_now(m->h, &now);

	if (err)
		return err;
	if (now < m->next_beat)
		return 0;
	v.until = now + (uint64_t)LEASE_S * m->h->cfg.hz;
	if (bpf_map_update_elem(m->monitor_fd, &zero, &v, BPF_ANY))
		return lib_fail(m->h, -errno, "monitor: keep events coming");
	m->next_beat = now + (uint64_t)HEARTBEAT_S * m->h->cfg.hz;
	return 0;
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct ctaccel_monitor_h *m = ctx;
	const struct ctaccel_event *e = data;
	struct ctaccel_flow f = {.orig_is_hi = 0};
	struct ctaccel_event_view v = {};

	if (len < sizeof(*e) || m->discard)
		return 0;
	f.orig_is_hi = e->orig_is_hi;
	ctaccel_flow_tuple(&e->key, &f, &v.tuple);
	v.type = e->type < CTACCEL_EV__MAX ? e->type : 0;
	v.reason = e->reason < CTACCEL_GONE__MAX ? e->reason : 0;
	v.state = e->state % CTACCEL_ST__MAX;
	v.time = m->real0 + ((double)e->jiffies - (double)m->jiffies0) / m->h->cfg.hz;
	v.orig_packets = e->leg[CTACCEL_DIR_ORIG].packets;
	v.orig_bytes = e->leg[CTACCEL_DIR_ORIG].bytes;
	v.reply_packets = e->leg[CTACCEL_DIR_REPLY].packets;
	v.reply_bytes = e->leg[CTACCEL_DIR_REPLY].bytes;
	return m->fn(&v, m->ctx);
}

int ctaccel_monitor_new(struct ctaccel *h, ctaccel_event_fn fn, void *ctx,
			struct ctaccel_monitor_h **out)
{
	struct ctaccel_monitor_h *m;
	char path[PATH_MAX];
	struct timespec ts;
	int fd = -1, err;

	*out = NULL;
	if (!h->open)
		return lib_fail(h, -EBADF, "monitor %s", h->root);
	m = calloc(1, sizeof(*m));
	if (!m)
		return lib_fail(h, -ENOMEM, "monitor");
	m->h = h;
	m->fn = fn;
	m->ctx = ctx;
	m->monitor_fd = -1;
	m->lock_fd = -1;
	err = clock_now(h, &m->jiffies0);
	if (err) {
		free(m);
		return err;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	m->real0 = ts.tv_sec + ts.tv_nsec / 1e9;
	/* bpffs opens no map pin with open(2): the lock is a directory. */
	err = ctaccel_pin_file(h, CTACCEL_PIN_MONITOR_LOCK, path, sizeof(path));
	if (!err && mkdir(path, 0700) && errno != EEXIST)
		err = -errno;
	m->lock_fd = err ? -1 : open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m->lock_fd < 0 || flock(m->lock_fd, LOCK_EX | LOCK_NB)) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		lib_fail(h, err, "monitor %s%s", h->root,
			 err == -EBUSY ? ": another monitor is reading its events" : "");
		goto fail;
	}
	m->monitor_fd = pin_get(h, PIN_MONITOR);
	fd = pin_get(h, PIN_EVENTS);
	if (m->monitor_fd < 0 || fd < 0) {
		err = m->monitor_fd < 0 ? m->monitor_fd : fd;
		lib_fail(h, err, "monitor: open %s/%s", h->root, pin_name(PIN_EVENTS));
		goto fail;
	}
	m->rb = ring_buffer__new(fd, on_event, m, NULL);
	close(fd);
	fd = -1;
	if (!m->rb) {
		err = lib_fail(h, -errno, "monitor: open the event ring");
		goto fail;
	}
	/* What the previous monitor's lease let in after it left. */
	m->discard = true;
	ring_buffer__consume(m->rb);
	m->discard = false;
	err = beat(m);
	if (err)
		goto fail;
	*out = m;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	ctaccel_monitor_free(m);
	return err;
}

int ctaccel_monitor_poll(struct ctaccel_monitor_h *m, int timeout_ms)
{
	int n, err = beat(m);

	if (err)
		return err;
	n = ring_buffer__poll(m->rb, timeout_ms);
	if (n == -EINTR)
		return 0;
	return n;
}

void ctaccel_monitor_free(struct ctaccel_monitor_h *m)
{
	if (!m)
		return;
	ring_buffer__free(m->rb);
	if (m->monitor_fd >= 0) {
		struct ctaccel_monitor off = {};
		__u32 zero = 0;

		/* the only reader leaves: events stop now, not at the lease's end */
		bpf_map_update_elem(m->monitor_fd, &zero, &off, BPF_ANY);
		close(m->monitor_fd);
	}
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	free(m);
}
