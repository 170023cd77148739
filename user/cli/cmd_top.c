// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * ctaccel top [interval S] [count N] [sort packets|bytes] [flows N]: the node
 * live. Full screen on a terminal (p/b sort, q quits, a resize redraws); one
 * frame after another otherwise; one JSON object per line under -j.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include "cli.h"
#include "ctjson.h"

#define TOP_FLOWS_MAX 100
#define TW_PEERS      5

struct top {
	double interval;
	long count; /* 0: until q or a signal */
	unsigned int nflows;
	bool by_bytes;
	bool screen; /* full screen on a terminal */
	struct termios saved;
	struct ctaccel_flow_rate busiest[TOP_FLOWS_MAX];
};

static volatile sig_atomic_t top_stop, top_resized;

static void on_signal(int sig)
{
	if (sig == SIGWINCH)
		top_resized = 1;
	else
		top_stop = 1;
}

static int top_args(struct cli *c, int argc, char **argv, struct top *t)
{
	char *end;
	int i;

	for (i = 0; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (is_prefix(argv[i], "interval") && v) {
			t->interval = strtod(v, &end);
			if (*end || !(t->interval >= 0.1 && t->interval <= 3600))
				goto bad;
		} else if (is_prefix(argv[i], "count") && v) {
			t->count = strtol(v, &end, 10);
			if (*end || t->count < 1 || t->count > 1000000)
				goto bad;
		} else if (is_prefix(argv[i], "flows") && v) {
			t->nflows = strtoul(v, &end, 10);
			if (*end || t->nflows > TOP_FLOWS_MAX)
				goto bad;
		} else if (is_prefix(argv[i], "sort") && v &&
			   (!strcmp(v, "packets") || !strcmp(v, "bytes"))) {
			t->by_bytes = !strcmp(v, "bytes");
		} else {
			cli_err(c, "top: unexpected '%s'; usage: " CLI_TOP_USAGE, argv[i]);
			return EXIT_USAGE;
		}
	}
	return 0;
bad:
	cli_err(c, "top: %s '%s': interval 0.1 to 3600 s, count 1 to 1000000, flows 0 to %d",
		argv[i], argv[i + 1], TOP_FLOWS_MAX);
	return EXIT_USAGE;
}

static void screen_enter(struct top *t)
{
	struct termios raw;

	tcgetattr(STDIN_FILENO, &t->saved);
	raw = t->saved;
	raw.c_lflag &= ~(ICANON | ECHO);
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	/* the alternate screen, without a cursor */
	fputs("\033[?1049h\033[?25l", stdout);
}

static void screen_leave(struct top *t)
{
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Wait for the next refresh; on a screen, take keys meanwhile. Returns false
 * to stop. A resize or a new sort order refreshes at once. */
static bool top_wait(struct top *t, double until)
{
	char key;

	for (;;) {
		double left = until - now_s();
		struct pollfd p = {.fd = STDIN_FILENO, .events = POLLIN};

		if (top_stop)
			return false;
		if (left <= 0 || top_resized)
			return true;
		if (!t->screen) {
			struct timespec ts = {(time_t)left, (long)((left - (time_t)left) * 1e9)};

			nanosleep(&ts, NULL);
			continue;
		}
		if (poll(&p, 1, (int)(left * 1000) + 1) != 1 || read(STDIN_FILENO, &key, 1) != 1)
			continue;
		if (key == 'q' || key == 'Q')
			return false;
		if (key == 'p' || key == 'b') {
			t->by_bytes = key == 'b';
			return true;
		}
	}
}

/* One line; on a screen, cut to its width and clearing what was there. */
static void line(int width, int *rows, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void line(int width, int *rows, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (*rows <= 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (width > 0)
		printf("%.*s\033[K\n", width < (int)sizeof(buf) ? width : (int)sizeof(buf) - 1,
		       buf);
	else
		printf("%s\n", buf);
	(*rows)--;
}

static double rate(const struct ctjson_top_frame *f, enum ctaccel_counter i)
{
	return f->interval_s > 0
		       ? (ctaccel_counter(f->cur, i) - ctaccel_counter(f->prev, i)) / f->interval_s
		       : 0;
}

static void draw(struct top *t, const struct ctjson_top_frame *f)
{
	struct winsize ws = {.ws_row = 50, .ws_col = 120};
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	int64_t flows = ctaccel_stats_flows(f->cur);
	int w, rows, i;
	size_t k;

	if (t->screen) {
		ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws);
		fputs("\033[H", stdout);
	}
	w = t->screen ? ws.ws_col : 0;
	rows = t->screen ? ws.ws_row - 1 : 1000;
	line(w, &rows, "ctaccel top: every %.1f s; flows %lld of %u (%.1f%%), %.0f%% bypassed",
	     t->interval, (long long)flows, f->max_flows,
	     f->max_flows ? 100.0 * flows / f->max_flows : 0.0,
	     f->res->flows ? 100.0 * f->res->bypassed / f->res->flows : 0.0);
	line(w, &rows,
	     "new %.0f/s  closed %.0f/s  expired %.0f/s  table_full %.0f/s  invalid %.0f/s",
	     rate(f, CTACCEL_CTR_flows_created), rate(f, CTACCEL_CTR_flows_closed),
	     rate(f, CTACCEL_CTR_flows_expired), rate(f, CTACCEL_CTR_table_full),
	     rate(f, CTACCEL_CTR_invalid));
	line(w, &rows, "%s", "");
	line(w, &rows, "%-12s %10s %10s", "STATE", "FLOWS", "CHANGE/s");
	for (i = 1; i < CTACCEL_ST__MAX; i++)
		line(w, &rows, "%-12s %10lld %10.1f", ctaccel_state_names[i],
		     (long long)f->cur->flows_in_state[i],
		     (f->cur->flows_in_state[i] - f->prev->flows_in_state[i]) / f->interval_s);
	line(w, &rows, "%s", "");
	line(w, &rows, "BUSIEST FLOWS by %s/s (p: packets, b: bytes, q: quit)",
	     t->by_bytes ? "bytes" : "packets");
	line(w, &rows, "%-39s %5s %-39s %5s %-11s %10s %12s", "SRC", "SPORT", "DST", "DPORT",
	     "STATE", "PKT/s", "BYTES/s");
	for (k = 0; k < f->res->nbusiest; k++) {
		const struct ctaccel_flow_rate *r = &f->busiest[k];

		inet_ntop(r->tuple.family, r->tuple.src, src, sizeof(src));
		inet_ntop(r->tuple.family, r->tuple.dst, dst, sizeof(dst));
		line(w, &rows, "%-39s %5u %-39s %5u %-11s %10.0f %12.0f", src, r->tuple.sport, dst,
		     r->tuple.dport, ctaccel_state_names[r->state % CTACCEL_ST__MAX],
		     r->packets / f->interval_s, r->bytes / f->interval_s);
	}
	line(w, &rows, "%s", "");
	line(w, &rows, "TIME_WAIT PEERS closest to port exhaustion (host sockets)");
	for (k = 0; f->tw && k < f->tw->npeers && k < f->tw_top; k++) {
		inet_ntop(f->tw->peers[k].key.family, f->tw->peers[k].key.addr, src, sizeof(src));
		line(w, &rows, "%-39s %5u %8u TIME_WAIT  %5.1f%% of the port range", src,
		     f->tw->peers[k].key.port, f->tw->peers[k].count, 100 * f->tw->peers[k].share);
	}
	if (t->screen)
		fputs("\033[J", stdout);
	else
		putchar('\n');
	fflush(stdout);
}

/* Refresh after refresh until count, q, or a signal. */
static int top_loop(struct cli *c, struct top *t, struct ctaccel_top *snap)
{
	struct ctaccel_stats st[2];
	struct ctaccel_top_result res;
	struct ctaccel_tw_report tw;
	double t0, t1;
	long n = 0;
	int cur = 0;

	if (ctaccel_stats(c->h, &st[0]) ||
	    ctaccel_top_refresh(c->h, snap, t->by_bytes, t->busiest, 0, &res))
		return EXIT_RUNTIME;
	t0 = now_s();
	while ((!t->count || n < t->count) && top_wait(t, t0 + t->interval)) {
		struct ctjson_top_frame f = {.prev = &st[cur], .cur = &st[!cur]};
		bool have_tw;

		top_resized = 0;
		if (ctaccel_stats(c->h, &st[!cur]) ||
		    ctaccel_top_refresh(c->h, snap, t->by_bytes, t->busiest, t->nflows, &res))
			return EXIT_RUNTIME;
		t1 = now_s();
		have_tw = ctaccel_tw_read(c->h, &tw) == 0;
		f.interval_s = t1 - t0;
		f.max_flows = ctaccel_max_flows(c->h);
		f.res = &res;
		f.busiest = t->busiest;
		f.by_bytes = t->by_bytes;
		f.tw = have_tw ? &tw : NULL;
		f.tw_top = TW_PEERS;
		if (c->json) {
			cli_json(c, ctjson_top(&f));
			fflush(stdout);
		} else {
			draw(t, &f);
		}
		if (have_tw)
			ctaccel_tw_free(&tw);
		cur = !cur;
		t0 = t1;
		n++;
	}
	return 0;
}

int do_top(struct cli *c, int argc, char **argv)
{
	struct top *t = calloc(1, sizeof(*t));
	struct ctaccel_top *snap = NULL;
	struct sigaction sa = {.sa_handler = on_signal};
	int rc;

	if (!t)
		return cli_fail(c, EXIT_RUNTIME, "top: %s", strerror(ENOMEM));
	t->interval = 1;
	t->nflows = 10;
	rc = top_args(c, argc, argv, t);
	if (rc)
		goto out;
	if (cli_open(c, false) || ctaccel_top_new(&snap)) {
		rc = EXIT_RUNTIME;
		goto out;
	}
	/* No SA_RESTART: a signal ends the wait at once. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	t->screen = !c->json && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	if (t->screen)
		screen_enter(t);
	rc = top_loop(c, t, snap);
	if (t->screen)
		screen_leave(t);
out:
	ctaccel_top_free(snap);
	free(t);
	return rc;
}
