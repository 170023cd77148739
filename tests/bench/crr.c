// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Connect/request/response/close load, bounded in time and count:
 *
 *   crr ADDR PORT[,PORT...] SECONDS THREADS [MAX_CONNECTIONS]
 *
 * Each thread loops: connect (timed), send one byte ('s': the server answers
 * and closes first, so the TIME_WAIT sockets sit on the server's side and the
 * client's ephemeral ports come back at once), read the answer, close.
 * Prints: "ok N fail M p50_us P p99_us P max_us P".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/socket.h>

#define MAX_THREADS 64
#define MAX_PORTS 16
#define LAT_CAP (1 << 22)

static struct sockaddr_storage dst[MAX_PORTS];
static socklen_t dst_len;
static int nports;
static double deadline;
static long max_conn;
static long started;
static unsigned int *lat; /* connect latency, us */
static long nlat;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int wait_fd(int fd, short ev, int ms)
{
	struct pollfd p = { .fd = fd, .events = ev };

	return poll(&p, 1, ms) == 1 ? 0 : -1;
}

/* One connection; the connect latency in *us. */
static int crr_once(int i, unsigned int *us)
{
	int fd = socket(dst[i].ss_family, SOCK_STREAM, 0), err = 0, fl;
	socklen_t elen = sizeof(err);
	char mode = 's', buf[512];
	double t0;

	if (fd < 0)
		return -1;
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	t0 = now();
	if (connect(fd, (struct sockaddr *)&dst[i], dst_len) && errno != EINPROGRESS)
		goto fail;
	if (wait_fd(fd, POLLOUT, 3000) || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) || err)
		goto fail;
	*us = (now() - t0) * 1e6;
	fcntl(fd, F_SETFL, fl);
	if (write(fd, &mode, 1) != 1 || wait_fd(fd, POLLIN, 3000) || read(fd, buf, sizeof(buf)) <= 0)
		goto fail;
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

struct worker {
	long ok, fail;
	int id;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	long k = 0;

	while (now() < deadline) {
		unsigned int us = 0;

		pthread_mutex_lock(&mu);
		if (max_conn && started >= max_conn) {
			pthread_mutex_unlock(&mu);
			break;
		}
		started++;
		pthread_mutex_unlock(&mu);
		if (crr_once((w->id + k++) % nports, &us)) {
			w->fail++;
			continue;
		}
		w->ok++;
		pthread_mutex_lock(&mu);
		if (nlat < LAT_CAP)
			lat[nlat++] = us;
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	unsigned int x = *(const unsigned int *)a, y = *(const unsigned int *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct worker w[MAX_THREADS] = {};
	pthread_t t[MAX_THREADS];
	long ok = 0, fail = 0;
	int threads, i;
	char *ports, *tok, *save = NULL;

	if (argc < 5) {
		fprintf(stderr, "usage: crr ADDR PORT[,PORT...] SECONDS THREADS [MAX_CONNECTIONS]\n");
		return 2;
	}
	ports = strdup(argv[2]);
	for (tok = strtok_r(ports, ",", &save); tok && nports < MAX_PORTS;
	     tok = strtok_r(NULL, ",", &save), nports++) {
		struct sockaddr_in *a4 = (void *)&dst[nports];
		struct sockaddr_in6 *a6 = (void *)&dst[nports];

		if (inet_pton(AF_INET, argv[1], &a4->sin_addr) == 1) {
			a4->sin_family = AF_INET;
			a4->sin_port = htons(atoi(tok));
			dst_len = sizeof(*a4);
		} else if (inet_pton(AF_INET6, argv[1], &a6->sin6_addr) == 1) {
			a6->sin6_family = AF_INET6;
			a6->sin6_port = htons(atoi(tok));
			dst_len = sizeof(*a6);
		} else {
			return 2;
		}
	}
	threads = atoi(argv[4]);
	if (!nports || threads < 1 || threads > MAX_THREADS || atoi(argv[3]) < 1 ||
	    atoi(argv[3]) > 600)
		return 2;
	max_conn = argc > 5 ? atol(argv[5]) : 0;
	lat = calloc(LAT_CAP, sizeof(*lat));
	deadline = now() + atoi(argv[3]);
	for (i = 0; i < threads; i++) {
		w[i].id = i;
		pthread_create(&t[i], NULL, work, &w[i]);
	}
	for (i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		ok += w[i].ok;
		fail += w[i].fail;
	}
	qsort(lat, nlat, sizeof(*lat), cmp);
	printf("ok %ld fail %ld p50_us %u p99_us %u max_us %u\n", ok, fail,
	       nlat ? lat[nlat / 2] : 0, nlat ? lat[(long)(nlat * 0.99)] : 0,
	       nlat ? lat[nlat - 1] : 0);
	return 0;
}
