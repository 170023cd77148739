// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Request/response on persistent connections, bounded in time:
 *
 *   rr ADDR PORT SECONDS CONNECTIONS [SIZE]
 *
 * Each connection (one thread) connects once to a tcpgen server, asks for its
 * echo mode ('e'), then loops: write SIZE bytes (64 by default, at most
 * MSG_MAX), read them back. Prints
 * "ok N fail M" with N the transactions (request and response) completed.
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
#include <netinet/tcp.h>
#include <sys/socket.h>

#define MAX_CONNS 64
#define MSG_MAX	  65536

static struct sockaddr_storage dst;
static socklen_t dst_len;
static double deadline;
static size_t msg = 64;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int read_full(int fd, char *buf, size_t n)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		if (poll(&p, 1, 3000) != 1)
			return -1;
		r = read(fd, buf + got, n - got);
		if (r <= 0)
			return -1;
		got += r;
	}
	return 0;
}

struct worker {
	long ok, fail;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	static __thread char buf[MSG_MAX];
	char mode = 'e';
	int fd, one = 1;

	memset(buf, 'q', msg);
	fd = socket(dst.ss_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&dst, dst_len) || write(fd, &mode, 1) != 1) {
		fprintf(stderr, "rr: connect: %s\n", strerror(errno));
		w->fail++;
		goto out;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while (now() < deadline) {
		errno = 0;
		if (write(fd, buf, msg) != (ssize_t)msg || read_full(fd, buf, msg)) {
			fprintf(stderr, "rr: after %ld round trips: %s\n", w->ok,
				errno ? strerror(errno) : "timed out or closed");
			w->fail++;
			break;
		}
		w->ok++;
	}
out:
	if (fd >= 0)
		close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in *a4 = (void *)&dst;
	struct sockaddr_in6 *a6 = (void *)&dst;
	struct worker w[MAX_CONNS] = {};
	pthread_t t[MAX_CONNS];
	long ok = 0, fail = 0;
	int i, n, secs;

	if (argc == 6)
		msg = atoi(argv[5]);
	if ((argc != 5 && argc != 6) || (secs = atoi(argv[3])) < 1 || secs > 3600 ||
	    (n = atoi(argv[4])) < 1 || n > MAX_CONNS || msg < 1 || msg > MSG_MAX) {
		fprintf(stderr, "usage: rr ADDR PORT SECONDS CONNECTIONS (1-%d) [SIZE (1-%d)]\n",
			MAX_CONNS, MSG_MAX);
		return 2;
	}
	if (inet_pton(AF_INET, argv[1], &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(atoi(argv[2]));
		dst_len = sizeof(*a4);
	} else if (inet_pton(AF_INET6, argv[1], &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(atoi(argv[2]));
		dst_len = sizeof(*a6);
	} else {
		fprintf(stderr, "rr: bad address %s\n", argv[1]);
		return 2;
	}
	deadline = now() + secs;
	for (i = 0; i < n; i++)
		pthread_create(&t[i], NULL, work, &w[i]);
	for (i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		ok += w[i].ok;
		fail += w[i].fail;
	}
	printf("ok %ld fail %ld\n", ok, fail);
	return fail ? 1 : 0;
}
