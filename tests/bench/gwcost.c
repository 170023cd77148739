// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * What a gateway costs per transaction, measured on variants that run side by
 * side in short interleaved slices:
 *
 *   gwcost rr|crr|bulk PORT SLICE_MS SECONDS CONNS direct=ADDR NAME=ADDR...
 *   gwcost stats < ROWS
 *   gwcost serve PORT
 *
 * Every NAME is one path to the same server (`gwcost serve`, one thread on
 * epoll, the modes 'e' and 's' of tests/integration/tcpgen.c) through a
 * gateway of its own, set up as one variant; `direct` reaches the
 * server with no gateway. Client, gateways and server share one CPU, which the
 * client keeps saturated (CONNS transactions in flight), so the wall time of a
 * slice is that CPU's work. A cycle gives each path one slice of SLICE_MS, in
 * an order shuffled per cycle, until SECONDS have passed.
 *
 * A path's gateway cost in one cycle is its time per transaction minus the
 * direct path's in that cycle: the slices of one cycle lie within a second or
 * two, and this machine's speed swings severalfold over seconds. A run prints
 * one row per path and cycle ("us CYCLE PATH US_PER_TRANSACTION") and one
 * total per path ("tx PATH TRANSACTIONS SECONDS FAILED").
 *
 * `stats` reads such rows, of any number of runs (cycle numbers distinct), and
 * prints per path the transactions per second, the median gateway cost over
 * cycles, and each ratio of two paths' median costs with a 95 % bootstrap
 * interval over the cycles. A ratio whose interval holds 1 does not tell the
 * two apart.
 *
 *   rr:   one 64-byte request and its echo per transaction, connections kept
 *   bulk: the same with 65,536 bytes each way
 *   crr:  connect, send 's' (the server answers 100 bytes and closes first),
 *         read to the end, close
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#define MAX_PATHS  8
#define MAX_CONNS  32
#define MAX_CYCLES 8192
#define BUF_SIZE   65536
#define BOOT	   2000

enum workload { WL_RR, WL_BULK, WL_CRR };
enum conn_state { CS_IDLE, CS_CONNECTING, CS_WRITING, CS_READING };

struct conn {
	int fd;
	enum conn_state state;
	size_t left;
};

struct path {
	const char *name;
	struct sockaddr_storage ss;
	socklen_t len;
	struct conn conn[MAX_CONNS];
	long tx, fail;
};

static struct path paths[MAX_PATHS];
static int npaths, nconns, port;
static enum workload wl;
static size_t msg = 64;
static char buf[BUF_SIZE];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int parse_path(struct path *p, char *arg)
{
	struct sockaddr_in *a4 = (void *)&p->ss;
	struct sockaddr_in6 *a6 = (void *)&p->ss;
	char *eq = strchr(arg, '=');

	if (!eq)
		return -1;
	*eq = '\0';
	p->name = arg;
	if (inet_pton(AF_INET, eq + 1, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		p->len = sizeof(*a4);
	} else if (inet_pton(AF_INET6, eq + 1, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		p->len = sizeof(*a6);
	} else {
		return -1;
	}
	return 0;
}

/* A non-blocking socket connecting to the path; the connect completes later. */
static int conn_open(struct path *p, struct conn *c)
{
	int one = 1;

	c->fd = socket(p->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&p->ss, p->len) && errno != EINPROGRESS) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	c->state = CS_CONNECTING;
	return 0;
}

/* rr and bulk: every connection connected and switched to echo, blocking. */
static int persistent_open(struct path *p)
{
	struct pollfd pfd;
	int i, err;
	socklen_t elen = sizeof(err);
	char mode = 'e';

	for (i = 0; i < nconns; i++) {
		struct conn *c = &p->conn[i];

		if (conn_open(p, c))
			return -1;
		pfd = (struct pollfd){.fd = c->fd, .events = POLLOUT};
		if (poll(&pfd, 1, 3000) != 1 ||
		    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) || err ||
		    write(c->fd, &mode, 1) != 1)
			return -1;
		c->state = CS_IDLE;
	}
	return 0;
}

static void conn_fail(struct path *p, struct conn *c)
{
	p->fail++;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->state = CS_IDLE;
}

/* Start one transaction on a connection. */
static void conn_start(struct path *p, struct conn *c)
{
	if (wl == WL_CRR) {
		if (conn_open(p, c))
			conn_fail(p, c);
		return;
	}
	if (c->fd < 0) {
		c->state = CS_IDLE;
		return;
	}
	c->state = CS_WRITING;
	c->left = msg;
}

/* Advance a connection whose poll events are `ev`; true when a transaction
 * has just ended. */
static int conn_step(struct path *p, struct conn *c, short ev)
{
	ssize_t r;
	int err = 0;
	socklen_t elen = sizeof(err);
	char mode = 's';

	if (ev & (POLLERR | POLLNVAL)) {
		conn_fail(p, c);
		return 0;
	}
	switch (c->state) {
	case CS_CONNECTING:
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) || err ||
		    write(c->fd, &mode, 1) != 1) {
			conn_fail(p, c);
			return 0;
		}
		c->state = CS_READING;
		return 0;
	case CS_WRITING:
		r = write(c->fd, buf, c->left);
		if (r < 0 && errno != EAGAIN) {
			conn_fail(p, c);
			return 0;
		}
		if (r > 0)
			c->left -= r;
		if (!c->left) {
			c->state = CS_READING;
			c->left = msg;
		}
		return 0;
	case CS_READING:
		r = read(c->fd, buf, wl == WL_CRR ? sizeof(buf) : c->left);
		if (r < 0 && errno == EAGAIN)
			return 0;
		if (wl == WL_CRR) {
			if (r < 0) {
				conn_fail(p, c);
				return 0;
			}
			if (r > 0)
				return 0;
			close(c->fd);
			c->fd = -1;
			c->state = CS_IDLE;
			return 1;
		}
		if (r <= 0) {
			conn_fail(p, c);
			return 0;
		}
		c->left -= r;
		if (c->left)
			return 0;
		c->state = CS_IDLE;
		return 1;
	default:
		return 0;
	}
}

/* One slice on one path: transactions started until `end`, then drained.
 * Returns the transactions; *secs gets the slice's wall time. */
static long slice(struct path *p, double ms, double *secs)
{
	struct pollfd pfd[MAX_CONNS];
	double t0 = now(), end = t0 + ms / 1e3;
	long tx = 0;
	int i, busy;

	for (i = 0; i < nconns; i++)
		conn_start(p, &p->conn[i]);
	for (;;) {
		busy = 0;
		for (i = 0; i < nconns; i++) {
			struct conn *c = &p->conn[i];

			pfd[i].fd = c->state == CS_IDLE ? -1 : c->fd;
			pfd[i].events = c->state == CS_READING ? POLLIN : POLLOUT;
			pfd[i].revents = 0;
			busy += c->state != CS_IDLE;
		}
		if (!busy)
			break;
		if (poll(pfd, nconns, 3000) <= 0) {
			for (i = 0; i < nconns; i++)
				if (p->conn[i].state != CS_IDLE)
					conn_fail(p, &p->conn[i]);
			break;
		}
		for (i = 0; i < nconns; i++) {
			if (!pfd[i].revents || !conn_step(p, &p->conn[i], pfd[i].revents))
				continue;
			tx++;
			if (now() < end)
				conn_start(p, &p->conn[i]);
		}
	}
	*secs = now() - t0;
	return tx;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static unsigned int rnd_state = 2463534242u;

static unsigned int rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/* Busy and total clock ticks of this CPU so far. */
static void cpu_ticks(long long *busy, long long *total)
{
	char name[16], line[256];
	long long v[8] = {0};
	FILE *f = fopen("/proc/stat", "r");

	snprintf(name, sizeof(name), "cpu%d ", sched_getcpu());
	*busy = *total = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, name, strlen(name)))
			continue;
		sscanf(line + strlen(name), "%lld %lld %lld %lld %lld %lld %lld %lld", &v[0], &v[1],
		       &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
		*total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
		*busy = *total - v[3] - v[4];
		break;
	}
	fclose(f);
}

/* The server: one thread on epoll, so that a connection costs the server no
 * thread of its own. The first byte of a connection picks its mode: 'e'
 * echoes until the client closes, 's' answers 100 bytes and closes first. */
struct sconn {
	int fd;
	char mode;
};

static void sconn_close(int ep, struct sconn *sc)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, sc->fd, NULL);
	close(sc->fd);
	free(sc);
}

/* Write all of `n` bytes, waiting (bounded) while the socket is full. */
static int write_all(int fd, const char *b, size_t n)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	ssize_t r;

	while (n) {
		r = write(fd, b, n);
		if (r < 0 && errno == EAGAIN) {
			if (poll(&p, 1, 3000) != 1)
				return -1;
			continue;
		}
		if (r <= 0)
			return -1;
		b += r;
		n -= r;
	}
	return 0;
}

static int serve(int argc, char **argv)
{
	struct sockaddr_in6 a = {.sin6_family = AF_INET6};
	struct epoll_event ev, evs[64];
	int lfd, ep, one = 1, zero = 0, i, n;

	if (argc != 3 || (a.sin6_port = htons(atoi(argv[2]))) == 0) {
		fprintf(stderr, "usage: gwcost serve PORT\n");
		return 2;
	}
	lfd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ep = epoll_create1(0);
	if (lfd < 0 || ep < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) ||
	    bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 4096)) {
		perror("gwcost: serve");
		return 1;
	}
	ev = (struct epoll_event){.events = EPOLLIN, .data.ptr = NULL};
	epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
	for (;;) {
		n = epoll_wait(ep, evs, 64, -1);
		for (i = 0; i < n; i++) {
			struct sconn *sc = evs[i].data.ptr;
			ssize_t r;

			if (!sc) {
				int fd;

				while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					sc = calloc(1, sizeof(*sc));
					if (!sc) {
						close(fd);
						continue;
					}
					sc->fd = fd;
					setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					ev = (struct epoll_event){.events = EPOLLIN,
								  .data.ptr = sc};
					epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
				}
				continue;
			}
			r = read(sc->fd, buf, sc->mode ? sizeof(buf) : 1);
			if (r < 0 && errno == EAGAIN)
				continue;
			if (r <= 0) {
				sconn_close(ep, sc);
				continue;
			}
			if (!sc->mode) {
				sc->mode = buf[0];
				if (sc->mode == 's') {
					memset(buf, 'r', 100);
					write_all(sc->fd, buf, 100);
					sconn_close(ep, sc);
				} else if (sc->mode != 'e') {
					sconn_close(ep, sc);
				}
				continue;
			}
			if (write_all(sc->fd, buf, r))
				sconn_close(ep, sc);
		}
	}
}

static int run(int argc, char **argv)
{
	int order[MAX_PATHS], i, j, b, secs, cycle, ret = 0;
	long long busy0, total0, busy1, total1;
	double slice_ms, deadline, spent[MAX_PATHS] = {0};

	if (argc < 8 || argc - 6 > MAX_PATHS || (slice_ms = atof(argv[3])) < 10 ||
	    (secs = atoi(argv[4])) < 1 || secs > 3600 || (nconns = atoi(argv[5])) < 1 ||
	    nconns > MAX_CONNS) {
		fprintf(stderr,
			"usage: gwcost rr|crr|bulk PORT SLICE_MS (>= 10) SECONDS (1-3600) "
			"CONNS (1-%d) direct=ADDR NAME=ADDR... (at most %d)\n"
			"       gwcost stats < ROWS\n",
			MAX_CONNS, MAX_PATHS - 1);
		return 2;
	}
	if (!strcmp(argv[1], "rr")) {
		wl = WL_RR;
	} else if (!strcmp(argv[1], "bulk")) {
		wl = WL_BULK;
		msg = BUF_SIZE;
	} else if (!strcmp(argv[1], "crr")) {
		wl = WL_CRR;
	} else {
		fprintf(stderr, "gwcost: unknown workload %s\n", argv[1]);
		return 2;
	}
	port = atoi(argv[2]);
	for (i = 6; i < argc; i++)
		if (parse_path(&paths[npaths++], argv[i])) {
			fprintf(stderr, "gwcost: bad path %s (NAME=ADDR)\n", argv[i]);
			return 2;
		}
	if (strcmp(paths[0].name, "direct")) {
		fprintf(stderr, "gwcost: the first path must be direct=ADDR\n");
		return 2;
	}
	memset(buf, 'q', sizeof(buf));
	for (i = 0; i < npaths; i++) {
		for (j = 0; j < MAX_CONNS; j++)
			paths[i].conn[j].fd = -1;
		if (wl != WL_CRR && persistent_open(&paths[i])) {
			fprintf(stderr, "gwcost: %s: connect: %s\n", paths[i].name,
				strerror(errno));
			return 1;
		}
	}

	cpu_ticks(&busy0, &total0);
	deadline = now() + secs;
	for (cycle = 0; cycle < MAX_CYCLES && now() < deadline; cycle++) {
		for (i = 0; i < npaths; i++)
			order[i] = i;
		for (i = npaths - 1; i > 0; i--) {
			j = rnd() % (i + 1);
			b = order[i];
			order[i] = order[j];
			order[j] = b;
		}
		for (i = 0; i < npaths; i++) {
			struct path *p = &paths[order[i]];
			double t;
			long tx = slice(p, slice_ms, &t);

			p->tx += tx;
			spent[order[i]] += t;
			if (tx)
				printf("us %d %s %.4f\n", cycle, p->name, t * 1e6 / tx);
		}
	}
	cpu_ticks(&busy1, &total1);
	for (i = 0; i < npaths; i++) {
		printf("tx %s %ld %.3f %ld\n", paths[i].name, paths[i].tx, spent[i], paths[i].fail);
		if (paths[i].fail)
			ret = 1;
	}
	printf("busy %s %d %.1f\n", argv[1], cycle,
	       total1 > total0 ? 100.0 * (busy1 - busy0) / (total1 - total0) : 0.0);
	return ret;
}

/* Pooled rows: per path its totals here, and in cost[path][cycle] its time
 * per transaction in each cycle (NAN: no row for that cycle). */
struct pooled {
	char name[32];
	long tx, fail;
	double secs;
};

static struct pooled pool[MAX_PATHS];
static int npool, ncyc;
static long cyc_id[MAX_CYCLES];
static double cost[MAX_PATHS][MAX_CYCLES];

static int pool_path(const char *name)
{
	int i;

	for (i = 0; i < npool; i++)
		if (!strcmp(pool[i].name, name))
			return i;
	if (npool == MAX_PATHS)
		return -1;
	snprintf(pool[npool].name, sizeof(pool[npool].name), "%s", name);
	for (i = 0; i < MAX_CYCLES; i++)
		cost[npool][i] = NAN;
	return npool++;
}

static int pool_cycle(long id)
{
	int i;

	for (i = 0; i < ncyc; i++)
		if (cyc_id[i] == id)
			return i;
	if (ncyc == MAX_CYCLES)
		return -1;
	cyc_id[ncyc] = id;
	return ncyc++;
}

/* The median over the cycles in `pick` (n of them) of path a's gateway cost
 * (its cost minus direct's in the same cycle). */
static double gw_median(int a, int direct, const int *pick, int n)
{
	static double v[MAX_CYCLES];
	int c, k = 0;

	for (c = 0; c < n; c++) {
		int i = pick[c];

		if (!isnan(cost[a][i]) && !isnan(cost[direct][i]))
			v[k++] = cost[a][i] - cost[direct][i];
	}
	return k ? median(v, k) : NAN;
}

static int stats(void)
{
	static int all[MAX_CYCLES], pick[MAX_CYCLES];
	static double boot[BOOT];
	char line[256], name[64];
	int direct, i, j, c, b;
	long id, n, fail;
	double v, secs;

	while (fgets(line, sizeof(line), stdin)) {
		if (sscanf(line, "us %ld %63s %lf", &id, name, &v) == 3) {
			i = pool_path(name);
			c = pool_cycle(id);
			if (i < 0 || c < 0)
				return 2;
			cost[i][c] = v;
		} else if (sscanf(line, "tx %63s %ld %lf %ld", name, &n, &secs, &fail) == 4) {
			i = pool_path(name);
			if (i < 0)
				return 2;
			pool[i].tx += n;
			pool[i].secs += secs;
			pool[i].fail += fail;
		}
	}
	direct = pool_path("direct");
	for (c = 0, n = 0; direct >= 0 && c < ncyc; c++)
		n += !isnan(cost[direct][c]);
	if (!n) {
		fprintf(stderr, "gwcost: stats: no cycles with a direct path\n");
		return 1;
	}
	for (c = 0; c < ncyc; c++)
		all[c] = c;
	printf("cycles %d\n", ncyc);
	for (i = 0; i < npool; i++)
		printf("path %s tx %ld fail %ld tps %.0f gw_us %.3f\n", pool[i].name, pool[i].tx,
		       pool[i].fail, pool[i].secs > 0 ? pool[i].tx / pool[i].secs : 0.0,
		       i == direct ? 0.0 : gw_median(i, direct, all, ncyc));
	for (i = 0; i < npool; i++) {
		for (j = 0; j < npool; j++) {
			if (i == j || i == direct || j == direct)
				continue;
			for (b = 0; b < BOOT; b++) {
				for (c = 0; c < ncyc; c++)
					pick[c] = rnd() % ncyc;
				boot[b] = gw_median(i, direct, pick, ncyc) /
					  gw_median(j, direct, pick, ncyc);
			}
			qsort(boot, BOOT, sizeof(*boot), cmp_double);
			printf("ratio %s %s %.3f ci %.3f %.3f\n", pool[i].name, pool[j].name,
			       gw_median(i, direct, all, ncyc) / gw_median(j, direct, all, ncyc),
			       boot[BOOT * 25 / 1000], boot[BOOT * 975 / 1000]);
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "stats"))
		return stats();
	if (argc >= 2 && !strcmp(argv[1], "serve"))
		return serve(argc, argv);
	return run(argc, argv);
}
