// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * The HTTP server's listeners and life (http.h): addresses parsed, sockets
 * bound (a unix socket made 0600 from its first moment, in a directory only
 * its owner writes), libmicrohttpd started from a thread with no privilege,
 * listeners moved on a reload.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "http_int.h"

/* libmicrohttpd's limits, per listener: connections past them are refused
 * at accept; the deadline (httpwork.c) frees the slots slow clients hold. */
#define CONN_LIMIT  256U
#define CONN_PER_IP 8U
#define CONN_IDLE_S 5U
#define CONN_STACK  (256 * 1024)
#define CONN_MEMORY (32 * 1024)

int http_listen_parse(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *colon;
	uint32_t port;

	memset(ss, 0, sizeof(*ss));
	if (!strncmp(spec, "unix:", 5)) {
		struct sockaddr_un *un = (void *)ss;

		if (!spec[5] || strlen(spec + 5) >= sizeof(un->sun_path))
			return -ENAMETOOLONG;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, spec + 5);
		*len = sizeof(*un);
		return 0;
	}
	colon = strrchr(spec, ':');
	if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof(host))
		return -EINVAL;
	/* decimal digits only, as every number ctaccel reads */
	if (!colon[1] || strlen(colon + 1) > 5 ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -EINVAL;
	port = strtoul(colon + 1, NULL, 10);
	if (port < 1 || port > 65535)
		return -EINVAL;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		struct sockaddr_in6 *a6 = (void *)ss;

		host[strlen(host) - 1] = 0;
		if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
			return -EINVAL;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*len = sizeof(*a6);
		return 0;
	}
	{
		struct sockaddr_in *a4 = (void *)ss;

		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return -EINVAL;
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		*len = sizeof(*a4);
	}
	return 0;
}

/*
 * A unix socket's place: its directory a real one (not a link), ours and
 * written by nobody else (or missing, where it can be made), and at the
 * path nothing or a socket of ours from before. Anything else there stays,
 * and the listener is refused. Checked without changing anything: by
 * --check-config and a reload's reading as well as before the bind.
 */
int http_unix_dir_check(const char *path, char *why, size_t len)
{
	char buf[108], dir[108], up[108];
	struct stat st;

	snprintf(buf, sizeof(buf), "%s", path);
	snprintf(dir, sizeof(dir), "%s", dirname(buf));
	if (lstat(dir, &st)) {
		snprintf(up, sizeof(up), "%s", dir);
		if (errno == ENOENT && !access(dirname(up), W_OK))
			return 0;
		snprintf(why, len, "directory %s is missing and cannot be made: %s", dir,
			 strerror(errno));
		return -ENOENT;
	}
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		snprintf(why, len,
			 "%s must be a directory (not a link) of this user's that nobody else may "
			 "write",
			 dir);
		return -EPERM;
	}
	if (!lstat(path, &st) && (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid())) {
		snprintf(why, len, "something else is there");
		return -EEXIST;
	}
	return 0;
}

/* The place checked, a missing directory made 0750, a socket of ours from
 * before removed. */
static int unix_place(const char *path, char *err, size_t errlen)
{
	char buf[108], dir[108], why[200];
	struct stat st;
	int rc;

	snprintf(buf, sizeof(buf), "%s", path);
	snprintf(dir, sizeof(dir), "%s", dirname(buf));
	if (lstat(dir, &st) && errno == ENOENT && mkdir(dir, 0750) && errno != EEXIST) {
		snprintf(err, errlen, "listen unix:%s: make %s: %s", path, dir, strerror(errno));
		return -errno;
	}
	rc = http_unix_dir_check(path, why, sizeof(why));
	if (rc) {
		snprintf(err, errlen, "listen unix:%s: %s", path, why);
		return rc;
	}
	unlink(path);
	return 0;
}

static int listen_socket(struct listener *l, const char *spec, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len;
	mode_t mask;
	int fd, one = 1, rc;

	rc = http_listen_parse(spec, &ss, &len);
	if (rc) {
		snprintf(err, errlen, "listen %s: %s", spec, strerror(-rc));
		return rc;
	}
	l->tcp = ss.ss_family != AF_UNIX;
	if (!l->tcp) {
		memcpy(l->unix_path, ((struct sockaddr_un *)&ss)->sun_path, sizeof(l->unix_path));
		rc = unix_place(l->unix_path, err, errlen);
		if (rc) {
			l->unix_path[0] = 0;
			return rc;
		}
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* A unix socket is made 0600 by bind itself: no moment where others
	 * may connect; then, if asked, opened to its directory's group.
	 * Nothing else makes files while the umask is narrowed. */
	mask = umask(0177);
	rc = bind(fd, (struct sockaddr *)&ss, len);
	umask(mask);
	if (rc || listen(fd, 64) ||
	    (!l->tcp && chmod(l->unix_path, l->srv->opts.unix_group ? 0660 : 0600)))
		goto fail;
	l->fd = fd;
	snprintf(l->spec, sizeof(l->spec), "%s", spec);
	return 0;
fail:
	rc = -errno;
	snprintf(err, errlen, "listen %s: %s", spec, strerror(errno));
	if (fd >= 0)
		close(fd);
	if (l->unix_path[0])
		unlink(l->unix_path);
	l->unix_path[0] = 0;
	return rc;
}

static struct listener *listener_new(struct http_server *s, bool control)
{
	struct listener *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->srv = s;
	l->fd = -1;
	l->control = control;
	pthread_mutex_init(&l->bucket.lock, NULL);
	l->bucket.rate = s->opts.rate;
	l->bucket.tokens = s->opts.rate;
	clock_gettime(CLOCK_MONOTONIC, &l->bucket.last);
	return l;
}

/* Stop serving, remove the socket's file, forget the listener. */
static void listener_free(struct listener *l)
{
	if (!l)
		return;
	if (l->mhd)
		MHD_stop_daemon(l->mhd);
	if (l->fd >= 0)
		close(l->fd);
	if (l->unix_path[0])
		unlink(l->unix_path);
	pthread_mutex_destroy(&l->bucket.lock);
	free(l);
}

/* In a thread with no privilege (http_unprivileged_run): the threads
 * libmicrohttpd starts inherit that. */
static int listener_start(void *arg)
{
	struct listener *l = arg;

	l->mhd = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
		0, NULL, NULL, http_handle, l, MHD_OPTION_LISTEN_SOCKET, l->fd,
		MHD_OPTION_NOTIFY_COMPLETED, http_completed, NULL, MHD_OPTION_NOTIFY_CONNECTION,
		http_conn_notify, l, MHD_OPTION_CONNECTION_LIMIT, CONN_LIMIT,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, CONN_PER_IP, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		(size_t)CONN_MEMORY, MHD_OPTION_CONNECTION_TIMEOUT, CONN_IDLE_S,
		MHD_OPTION_THREAD_STACK_SIZE, (size_t)CONN_STACK, MHD_OPTION_END);
	if (!l->mhd)
		return -EIO;
	l->fd = -1; /* libmicrohttpd's now */
	return 0;
}

struct http_server *http_server_new(const struct http_endpoint *table, size_t n, void *ctx,
				    const struct http_options *o)
{
	struct http_server *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->table = table;
	s->n = n;
	s->ctx = ctx;
	s->opts = *o;
	pthread_mutex_init(&s->conns_lock, NULL);
	s->conns.next = s->conns.prev = &s->conns;
	return s;
}

/* A listener for `spec`, bound; NULL (err set) when it cannot be. */
static struct listener *listener_bind(struct http_server *s, const char *spec, bool control,
				      char *err, size_t errlen)
{
	struct listener *l = listener_new(s, control);

	if (!l) {
		snprintf(err, errlen, "listen %s: %s", spec, strerror(ENOMEM));
		return NULL;
	}
	if (listen_socket(l, spec, err, errlen)) {
		listener_free(l);
		return NULL;
	}
	return l;
}

int http_server_bind(struct http_server *s, const char *listen, const char *control, char *err,
		     size_t errlen)
{
	bool split = control && *control;

	s->listeners[0] = listener_bind(s, listen, !split, err, errlen);
	if (s->listeners[0] && split) {
		s->listeners[1] = listener_bind(s, control, true, err, errlen);
		if (!s->listeners[1]) {
			listener_free(s->listeners[0]);
			s->listeners[0] = NULL;
		}
	}
	return s->listeners[0] ? 0 : -EIO;
}

static int start_all(void *arg)
{
	struct http_server *s = arg;
	int i, err = 0;

	for (i = 0; i < 2 && !err; i++)
		if (s->listeners[i])
			err = listener_start(s->listeners[i]);
	return err ?: http_reaper_start(s);
}

int http_server_start(struct http_server *s, char *err, size_t errlen)
{
	int rc;

	rc = http_worker_start(&s->reads, READ_WAIT_MS);
	rc = rc ?: http_worker_start(&s->changes, CHANGE_WAIT_MS);
	rc = rc ?: http_unprivileged_run(s, start_all, s);
	if (rc)
		snprintf(err, errlen, "start the HTTP server: %s", strerror(-rc));
	return rc;
}

int http_server_relisten(struct http_server *s, const char *listen, const char *control, char *err,
			 size_t errlen)
{
	const char *want[2] = {listen, control && *control ? control : NULL};
	struct listener *fresh[2] = {NULL, NULL};
	bool change[2] = {false, false};
	int i, moved = 0;

	for (i = 0; i < 2; i++) {
		struct listener *l = s->listeners[i];

		if ((!want[i] && !l) || (want[i] && l && !strcmp(l->spec, want[i])))
			continue;
		change[i] = true;
		moved = 1;
		if (!want[i])
			continue;
		fresh[i] = listener_bind(s, want[i], i == 1 || !want[1], err, errlen);
		if (!fresh[i])
			goto undo;
		if (http_unprivileged_run(s, listener_start, fresh[i])) {
			snprintf(err, errlen, "listen %s: cannot start the HTTP server", want[i]);
			goto undo;
		}
	}
	/* the new ones serve already: the old ones stop */
	for (i = 0; i < 2; i++) {
		struct listener *old = s->listeners[i];

		if (!change[i])
			continue;
		s->listeners[i] = fresh[i];
		listener_free(old);
	}
	/* the first listener serves changes only while there is no control one */
	if (s->listeners[0])
		s->listeners[0]->control = !s->listeners[1];
	return moved;
undo:
	for (i = 0; i < 2; i++)
		listener_free(fresh[i]);
	return -EIO;
}

void http_server_set_rate(struct http_server *s, unsigned int rate)
{
	int i;

	s->opts.rate = rate;
	for (i = 0; i < 2; i++) {
		struct listener *l = s->listeners[i];

		if (!l)
			continue;
		pthread_mutex_lock(&l->bucket.lock);
		l->bucket.rate = rate;
		if (l->bucket.tokens > rate)
			l->bucket.tokens = rate;
		pthread_mutex_unlock(&l->bucket.lock);
	}
}

void http_server_stop(struct http_server *s)
{
	int i;

	for (i = 0; i < 2; i++) {
		listener_free(s->listeners[i]);
		s->listeners[i] = NULL;
	}
	http_reaper_stop(s);
	http_worker_stop(&s->reads);
	http_worker_stop(&s->changes);
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	http_server_stop(s);
	pthread_mutex_destroy(&s->conns_lock);
	free(s);
}

void http_server_counters(const struct http_server *s, struct http_counters *out)
{
	const uint64_t *in = (const uint64_t *)&s->counters;
	uint64_t *o = (uint64_t *)out;
	size_t i;

	for (i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		o[i] = __atomic_load_n(&in[i], __ATOMIC_RELAXED);
}
