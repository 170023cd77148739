// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * Traffic for the integration tests: TCP connections that end in a chosen way,
 * so that ctaccel and nf_conntrack can be compared flow by flow.
 *
 *   tcpgen server ADDR PORT
 *   tcpgen client ADDR PORT MODE COUNT [HOLD_SECONDS [SOURCE_PORT]]
 *
 * MODE (sent to the server as the first byte):
 *   c  client closes first        s  server closes first
 *   h  half-close: client shuts down writing, server still sends, then closes
 *   b  both close at once         o  held open for HOLD_SECONDS, then client closes
 *   r  server resets              R  client resets
 *   e  echo until the client closes (the server side of tests/bench/rr.c)
 *   x  connect only (refused or unanswered: no server byte expected)
 *
 * With SOURCE_PORT, connection i is made from port SOURCE_PORT + i: where the
 * server closes first, the client keeps nothing of a connection, and the
 * kernel's connect() may pick one of its ports again, whose SYN then ends the
 * server's TIME_WAIT socket of that port's last connection. A caller that
 * counts those sockets gives ports outside ip_local_port_range.
 *
 * Prints "ok N fail M" on stdout; every loop is bounded in count and time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_COUNT     100000
#define IO_TIMEOUT_MS 5000

static int addr_parse(const char *s, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *a4 = (void *)ss;
	struct sockaddr_in6 *a6 = (void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		*len = sizeof(*a4);
		return AF_INET;
	}
	if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*len = sizeof(*a6);
		return AF_INET6;
	}
	return -1;
}

static int wait_fd_ms(int fd, short ev, int ms)
{
	struct pollfd p = {.fd = fd, .events = ev};
	int r = poll(&p, 1, ms);

	if (r == 0)
		errno = ETIMEDOUT;
	return r == 1 ? 0 : -1;
}

static int wait_fd(int fd, short ev)
{
	return wait_fd_ms(fd, ev, IO_TIMEOUT_MS);
}

static void reset_close(int fd)
{
	struct linger l = {.l_onoff = 1, .l_linger = 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/* Read until EOF (or error, or `ms` without data). */
static void drain_ms(int fd, int ms)
{
	char buf[4096];

	while (wait_fd_ms(fd, POLLIN, ms) == 0 && read(fd, buf, sizeof(buf)) > 0)
		;
}

static void drain(int fd)
{
	drain_ms(fd, IO_TIMEOUT_MS);
}

#define HOLD_MAX_MS (600 * 1000)

static void echo(int fd)
{
	char buf[16384];
	ssize_t n;

	while (wait_fd_ms(fd, POLLIN, HOLD_MAX_MS) == 0 && (n = read(fd, buf, sizeof(buf))) > 0)
		if (write(fd, buf, n) != n)
			break;
}

static void *serve(void *arg)
{
	int fd = (int)(long)arg;
	char mode = 0, buf[500];

	memset(buf, 'r', sizeof(buf));
	if (wait_fd(fd, POLLIN) || read(fd, &mode, 1) != 1) {
		close(fd);
		return NULL;
	}
	switch (mode) {
	case 'c': /* answer, then wait for the client's FIN */
		write(fd, buf, 100);
		drain(fd);
		close(fd);
		break;
	case 'o': /* held open: the client decides when it ends */
		write(fd, buf, 100);
		drain_ms(fd, HOLD_MAX_MS);
		close(fd);
		break;
	case 's':
	case 'b':
		write(fd, buf, 100);
		close(fd);
		break;
	case 'h': /* client has shut down writing: send more, then close */
		drain(fd);
		write(fd, buf, sizeof(buf));
		close(fd);
		break;
	case 'e': /* echo requests until the client closes (tests/bench/rr.c) */
		echo(fd);
		close(fd);
		break;
	case 'r':
		reset_close(fd);
		break;
	case 'R':
	default:
		drain(fd);
		close(fd);
		break;
	}
	return NULL;
}

static int server(const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fam = addr_parse(addr, port, &ss, &len), fd, one = 1;

	if (fam < 0)
		return 2;
	fd = socket(fam, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (void *)&ss, len) || listen(fd, 1024)) {
		perror("tcpgen: server");
		return 1;
	}
	for (;;) {
		pthread_t t;
		int c = accept(fd, NULL, NULL);

		if (c < 0)
			continue;
		if (pthread_create(&t, NULL, serve, (void *)(long)c)) {
			close(c);
			continue;
		}
		pthread_detach(t);
	}
}

/* Non-blocking connect with a bound: refused and unanswered end quickly. */
static int connect_bounded(int fd, const struct sockaddr_storage *ss, socklen_t len, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int fl = fcntl(fd, F_GETFL), err = 0;
	socklen_t elen = sizeof(err);

	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(fd, (const void *)ss, len) == 0)
		goto done;
	if (errno != EINPROGRESS)
		return -1;
	if (poll(&p, 1, ms) != 1) {
		errno = ETIMEDOUT;
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) || err) {
		errno = err ? err : errno;
		return -1;
	}
done:
	fcntl(fd, F_SETFL, fl);
	return 0;
}

/* The first failure's cause, once, on stderr: a failed run must say why. */
static void first_failure(const char *what)
{
	static int said;

	if (!said++)
		fprintf(stderr, "tcpgen: first failure: %s: %s\n", what, strerror(errno));
}

/* Bind fd to `port` on the wildcard address of its family. */
static int bind_port(int fd, int fam, int port)
{
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};

	if (fam == AF_INET)
		return bind(fd, (void *)&a4, sizeof(a4));
	return bind(fd, (void *)&a6, sizeof(a6));
}

static int one_connection(int fam, const struct sockaddr_storage *ss, socklen_t len, char mode,
			  int sport, int *held)
{
	char buf[4096];
	int fd = socket(fam, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (sport && bind_port(fd, fam, sport)) {
		first_failure("bind");
		close(fd);
		return -1;
	}
	if (mode == 'x') {
		int r = connect_bounded(fd, ss, len, 2500);

		close(fd);
		return r;
	}
	if (connect_bounded(fd, ss, len, IO_TIMEOUT_MS)) {
		first_failure("connect");
		close(fd);
		return -1;
	}
	if (write(fd, &mode, 1) != 1) {
		first_failure("write");
		close(fd);
		return -1;
	}
	switch (mode) {
	case 'c':
		if (wait_fd(fd, POLLIN) || read(fd, buf, 100) <= 0) {
			first_failure("read");
			goto fail;
		}
		close(fd);
		break;
	case 'o':
		if (wait_fd(fd, POLLIN) || read(fd, buf, 100) <= 0)
			goto fail;
		*held = fd;
		break;
	case 's':
		drain(fd);
		close(fd);
		break;
	case 'b':
		close(fd);
		break;
	case 'h':
		shutdown(fd, SHUT_WR);
		drain(fd);
		close(fd);
		break;
	case 'r':
		drain(fd);
		close(fd);
		break;
	case 'R':
		usleep(20000);
		reset_close(fd);
		break;
	}
	return 0;
fail:
	close(fd);
	return -1;
}

static int client(const char *addr, int port, char mode, int count, int hold, int sport)
{
	static int held[MAX_COUNT];
	struct sockaddr_storage ss;
	int fam, i, ok = 0, fail = 0, nheld = 0;
	socklen_t len;

	fam = addr_parse(addr, port, &ss, &len);
	if (fam < 0 || count < 1 || count > MAX_COUNT || !strchr("cshborRx", mode) || sport < 0 ||
	    (sport && sport + count > 65536))
		return 2;
	for (i = 0; i < count; i++) {
		int h = -1;

		if (one_connection(fam, &ss, len, mode, sport ? sport + i : 0, &h))
			fail++;
		else
			ok++;
		if (h >= 0)
			held[nheld++] = h;
	}
	printf("ok %d fail %d\n", ok, fail);
	fflush(stdout);
	if (nheld) {
		sleep(hold > 0 && hold < 600 ? hold : 1);
		for (i = 0; i < nheld; i++)
			close(held[i]);
		usleep(200000);
	}
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && !strcmp(argv[1], "server"))
		return server(argv[2], atoi(argv[3]));
	if (argc >= 6 && argc <= 8 && !strcmp(argv[1], "client"))
		return client(argv[2], atoi(argv[3]), argv[4][0], atoi(argv[5]),
			      argc >= 7 ? atoi(argv[6]) : 0, argc == 8 ? atoi(argv[7]) : 0);
	fprintf(stderr, "usage: tcpgen server ADDR PORT | client ADDR PORT MODE COUNT [HOLD "
			"[SOURCE_PORT]]\n");
	return 2;
}
