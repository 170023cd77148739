// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* The daemon's HTTP server (libmicrohttpd), for a table of endpoints. */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <jansson.h>
#include <microhttpd.h>
#include "http.h"

struct listener {
	struct http_server *srv;
	struct MHD_Daemon *mhd;
	char unix_path[108];
	bool control; /* may serve the endpoints that change state */
};

/*
 * One token bucket for all listeners: `rate` requests per second with a
 * burst of as many. A flood gets 429s, counted, instead of the daemon's CPU.
 */
struct bucket {
	pthread_mutex_t lock;
	unsigned int rate;
	double tokens;
	struct timespec last;
};

struct http_server {
	const struct http_endpoint *table;
	size_t n;
	void *ctx;
	struct listener listeners[2];
	struct bucket bucket;
	struct http_counters counters;
};

/* Per request: the body as it arrives, and whether it was refused. */
struct body {
	char *data;
	size_t len;
	bool too_big;
	bool limited; /* over the request rate: answered 429 */
};

void http_reply_text(struct http_reply *rep, unsigned int code, const char *type, const char *text)
{
	rep->code = code;
	rep->type = type;
	rep->text = strdup(text);
}

void http_reply_error(struct http_reply *rep, unsigned int code, const char *msg)
{
	json_t *o = json_pack("{s:s}", "error", msg);

	rep->code = code;
	rep->type = "application/json";
	rep->text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, struct http_reply *rep)
{
	static const char oom[] = "{\"error\":\"out of memory\"}";
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (rep->text)
		r = MHD_create_response_from_buffer(strlen(rep->text), rep->text,
						    MHD_RESPMEM_MUST_FREE);
	else
		r = NULL;
	if (!r) {
		/* No text, or no response object for it: a fixed reply. */
		free(rep->text);
		rep->code = 500;
		rep->type = "application/json";
		r = MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)oom,
						    MHD_RESPMEM_PERSISTENT);
		if (!r)
			return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", rep->type);
	ret = MHD_queue_response(conn, rep->code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned int code, const char *msg)
{
	struct http_reply rep;

	http_reply_error(&rep, code, msg);
	return send_reply(conn, &rep);
}

const struct http_endpoint *http_endpoint_find(const struct http_endpoint *table, size_t n,
					       const char *url, const char *method,
					       unsigned int *status)
{
	size_t i;

	*status = 404;
	for (i = 0; i < n; i++) {
		if (strcmp(url, table[i].path))
			continue;
		if (!strcmp(method, table[i].method))
			return &table[i];
		*status = 405;
	}
	return NULL;
}

static bool bucket_take(struct bucket *b)
{
	struct timespec now;
	bool ok;

	if (!b->rate)
		return true;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&b->lock);
	b->tokens += (now.tv_sec - b->last.tv_sec) * (double)b->rate +
		     (now.tv_nsec - b->last.tv_nsec) * 1e-9 * b->rate;
	if (b->tokens > b->rate)
		b->tokens = b->rate;
	b->last = now;
	ok = b->tokens >= 1.0;
	if (ok)
		b->tokens -= 1.0;
	pthread_mutex_unlock(&b->lock);
	return ok;
}

static enum MHD_Result route(const struct listener *l, struct MHD_Connection *conn, const char *url,
			     const char *method, struct body *b)
{
	struct http_server *s = l->srv;
	struct http_request req = {.body = b->data ? b->data : "", .len = b->len};
	struct http_reply rep = {.code = 200, .type = "text/plain"};
	const struct http_endpoint *e;
	unsigned int status;

	if (b->limited) {
		__sync_fetch_and_add(&s->counters.rate_limited, 1);
		return send_error(conn, 429, "too many requests");
	}
	if (b->too_big)
		__sync_fetch_and_add(&s->counters.too_large, 1);
	e = http_endpoint_find(s->table, s->n, url, method, &status);
	if (!e) {
		__sync_fetch_and_add(&s->counters.not_found, 1);
		return send_error(conn, status,
				  status == 405 ? "method not allowed" : "no such resource");
	}
	if (e->changes && !l->control) {
		__sync_fetch_and_add(&s->counters.forbidden, 1);
		return send_error(conn, 403, "the control API is served on its own socket");
	}
	__sync_fetch_and_add(&s->counters.served, 1);
	req.too_big = b->too_big;
	e->fn(s->ctx, &req, &rep);
	return send_reply(conn, &rep);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	struct listener *l = cls;
	struct body *b = *con_cls;

	(void)version;
	if (!b) {
		const struct http_endpoint *e;
		unsigned int status;

		b = calloc(1, sizeof(*b));
		if (!b)
			return MHD_NO;
		e = http_endpoint_find(l->srv->table, l->srv->n, url, method, &status);
		b->limited = !(e && e->unlimited) && !bucket_take(&l->srv->bucket);
		*con_cls = b;
		return MHD_YES;
	}
	if (*upload_size) {
		if (b->limited) {
			/* Not kept: the answer is 429 whatever it says. */
		} else if (b->len + *upload_size > HTTP_MAX_BODY) {
			b->too_big = true;
		} else {
			char *nd = realloc(b->data, b->len + *upload_size + 1);

			if (!nd)
				return MHD_NO;
			memcpy(nd + b->len, upload, *upload_size);
			b->len += *upload_size;
			nd[b->len] = 0;
			b->data = nd;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	return route(l, conn, url, method, b);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		      enum MHD_RequestTerminationCode toe)
{
	struct body *b = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (b) {
		free(b->data);
		free(b);
	}
	*con_cls = NULL;
}

int http_listen_parse(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *colon;
	char *end;
	long port;

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
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 1 || port > 65535)
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

int http_unix_dir_check(const char *path, char *why, size_t len)
{
	char buf[108], dir[108], up[108];
	struct stat st;

	snprintf(buf, sizeof(buf), "%s", path);
	snprintf(dir, sizeof(dir), "%s", dirname(buf));
	if (!stat(dir, &st)) {
		if (S_ISDIR(st.st_mode))
			return 0;
		snprintf(why, len, "%s is not a directory", dir);
		return -ENOTDIR;
	}
	snprintf(up, sizeof(up), "%s", dir);
	if (access(dirname(up), W_OK)) {
		snprintf(why, len, "directory %s is missing and cannot be made: %s", dir,
			 strerror(errno));
		return -ENOENT;
	}
	return 0;
}

static int listen_socket(const char *spec, char *unix_path)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, err;

	err = http_listen_parse(spec, &ss, &len);
	if (err)
		return err;
	if (ss.ss_family == AF_UNIX) {
		const struct sockaddr_un *un = (const void *)&ss;

		_Static_assert(sizeof(((struct listener *)0)->unix_path) == sizeof(un->sun_path),
			       "unix path size");
		memcpy(unix_path, un->sun_path, sizeof(un->sun_path));
		unlink(unix_path);
		{
			char dir[sizeof(un->sun_path) + 1];

			memcpy(dir, un->sun_path, sizeof(un->sun_path));
			dir[sizeof(un->sun_path)] = 0;
			if (mkdir(dirname(dir), 0750) && errno != EEXIST)
				return -errno;
		}
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 64)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (ss.ss_family == AF_UNIX)
		chmod(unix_path, 0600);
	return fd;
}

static int listener_start(struct listener *l, const char *spec, bool control, char *err,
			  size_t errlen)
{
	int fd = listen_socket(spec, l->unix_path);

	if (fd < 0) {
		snprintf(err, errlen, "listen %s: %s", spec, strerror(-fd));
		return fd;
	}
	l->control = control;
	l->mhd = MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, l,
		MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
		MHD_OPTION_CONNECTION_LIMIT, 64U, MHD_OPTION_PER_IP_CONNECTION_LIMIT, 16U,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
		MHD_OPTION_CONNECTION_TIMEOUT, 10U, MHD_OPTION_END);
	if (!l->mhd) {
		snprintf(err, errlen, "listen %s: cannot start the HTTP server", spec);
		close(fd);
		return -EIO;
	}
	return 0;
}

struct http_server *http_server_new(const struct http_endpoint *table, size_t n, void *ctx,
				    unsigned int rate)
{
	struct http_server *s = calloc(1, sizeof(*s));
	int i;

	if (!s)
		return NULL;
	s->table = table;
	s->n = n;
	s->ctx = ctx;
	for (i = 0; i < 2; i++)
		s->listeners[i].srv = s;
	pthread_mutex_init(&s->bucket.lock, NULL);
	s->bucket.rate = rate;
	s->bucket.tokens = rate;
	clock_gettime(CLOCK_MONOTONIC, &s->bucket.last);
	return s;
}

int http_server_listen(struct http_server *s, const char *listen, const char *control, char *err,
		       size_t errlen)
{
	bool split = control && *control;
	int rc;

	rc = listener_start(&s->listeners[0], listen, !split, err, errlen);
	if (!rc && split) {
		rc = listener_start(&s->listeners[1], control, true, err, errlen);
		if (rc)
			http_server_stop(s);
	}
	return rc;
}

void http_server_stop(struct http_server *s)
{
	size_t i;

	for (i = 0; i < 2; i++) {
		struct listener *l = &s->listeners[i];

		if (l->mhd)
			MHD_stop_daemon(l->mhd);
		l->mhd = NULL;
		if (l->unix_path[0])
			unlink(l->unix_path);
		l->unix_path[0] = 0;
	}
}

void http_server_free(struct http_server *s)
{
	if (!s)
		return;
	http_server_stop(s);
	pthread_mutex_destroy(&s->bucket.lock);
	free(s);
}

void http_server_counters(const struct http_server *s, struct http_counters *out)
{
	out->served = __atomic_load_n(&s->counters.served, __ATOMIC_RELAXED);
	out->rate_limited = __atomic_load_n(&s->counters.rate_limited, __ATOMIC_RELAXED);
	out->too_large = __atomic_load_n(&s->counters.too_large, __ATOMIC_RELAXED);
	out->not_found = __atomic_load_n(&s->counters.not_found, __ATOMIC_RELAXED);
	out->forbidden = __atomic_load_n(&s->counters.forbidden, __ATOMIC_RELAXED);
}
