// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* The daemon's HTTP server (libmicrohttpd), for a table of endpoints (http.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <jansson.h>
#include "http_int.h"

/* Per request: the body as it arrives, and what was decided before it. */
struct body {
	char *data;
	size_t len;
	bool too_big;
	bool limited; /* over the listener's request rate: answered 429 */
	bool replied; /* answered during the upload (413) */
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

/* Queue the reply; its text goes to libmicrohttpd, which frees it. */
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
	rep->text = NULL;
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

/* "127.0.0.1", "[::1]:9474", "localhost:9474": not a name a page could own. */
bool http_host_is_address(const char *host)
{
	char h[128], *port = NULL, *end;
	struct in6_addr a6;
	struct in_addr a4;

	if (!host || !*host || strlen(host) >= sizeof(h))
		return false;
	snprintf(h, sizeof(h), "%s", host);
	if (h[0] == '[') {
		end = strchr(h, ']');
		if (!end || (end[1] && end[1] != ':'))
			return false;
		port = end[1] ? end + 2 : NULL;
		*end = 0;
		if (inet_pton(AF_INET6, h + 1, &a6) != 1)
			return false;
	} else {
		port = strchr(h, ':');
		if (port)
			*port++ = 0;
		if (strcasecmp(h, "localhost") && inet_pton(AF_INET, h, &a4) != 1)
			return false;
	}
	if (port && (!*port || strlen(port) > 5 || strspn(port, "0123456789") != strlen(port)))
		return false;
	return true;
}

static bool bucket_take(struct bucket *b)
{
	struct timespec now;
	bool ok;

	pthread_mutex_lock(&b->lock);
	if (!b->rate) {
		pthread_mutex_unlock(&b->lock);
		return true;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
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

/*
 * A change must not come from a web page: no Origin (a browser sends one with
 * every cross-origin PUT or POST), a JSON content type (which a page cannot
 * send without a preflight this server never answers), and on TCP a Host
 * that is an address, not a name a DNS-rebinding page could point here. 0,
 * or the status of the refusal, its reason in *why.
 */
static unsigned int change_refused(const struct listener *l, struct MHD_Connection *conn,
				   const char **why)
{
	const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
	const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
	const char *type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
	struct http_counters *c = &l->srv->counters;

	if (origin) {
		__sync_fetch_and_add(&c->forbidden, 1);
		*why = "a change from a web page (Origin) is refused";
		return 403;
	}
	if (l->tcp && !http_host_is_address(host)) {
		__sync_fetch_and_add(&c->misdirected, 1);
		*why = "a change must name this server by its address (Host)";
		return 421;
	}
	if (!type || strncasecmp(type, "application/json", 16) ||
	    (type[16] && type[16] != ';' && type[16] != ' ')) {
		__sync_fetch_and_add(&c->wrong_type, 1);
		*why = "a change takes Content-Type: application/json";
		return 415;
	}
	return 0;
}

/* 413, counted as that outcome alone. */
static enum MHD_Result refuse_too_large(struct http_server *s, struct MHD_Connection *conn)
{
	__sync_fetch_and_add(&s->counters.too_large, 1);
	return send_error(conn, 413, "body larger than 256 KiB");
}

/* The handler, in a worker with the process's privileges: it gets the
 * parsed request, not the bytes. */
static enum MHD_Result run_in_worker(struct listener *l, struct MHD_Connection *conn,
				     const struct http_endpoint *e, void *parsed)
{
	struct http_server *s = l->srv;
	struct http_job *job = calloc(1, sizeof(*job));
	enum MHD_Result ret;

	if (!job) {
		if (e->free_parsed && parsed)
			e->free_parsed(parsed);
		return send_error(conn, 500, "out of memory");
	}
	job->e = e;
	job->ctx = s->ctx;
	job->req.body = "";
	job->req.parsed = parsed;
	job->rep.code = 200;
	job->rep.type = "text/plain";
	switch (http_worker_run(e->changes ? &s->changes : &s->reads, job)) {
	case 0:
		break;
	case -EBUSY: /* never started, never will */
		__sync_fetch_and_add(&s->counters.timed_out, 1);
		return send_error(conn, 503, "busy: the request was not run; try again");
	default: /* started: a change may still complete */
		__sync_fetch_and_add(&s->counters.timed_out, 1);
		return send_error(conn, 503,
				  "busy: no answer in time; a change may still complete, "
				  "check before trying again");
	}
	ret = send_reply(conn, &job->rep);
	http_job_free(job);
	return ret;
}

static enum MHD_Result route(struct listener *l, struct MHD_Connection *conn, const char *url,
			     const char *method, struct body *b)
{
	struct http_server *s = l->srv;
	struct http_request req = {.body = b->data ? b->data : "", .len = b->len};
	struct http_reply rep = {.code = 200, .type = "text/plain"};
	const struct http_endpoint *e;
	const char *why = NULL;
	unsigned int status;
	void *parsed = NULL;

	if (b->limited) {
		__sync_fetch_and_add(&s->counters.rate_limited, 1);
		return send_error(conn, 429, "too many requests");
	}
	if (b->too_big)
		return refuse_too_large(s, conn);
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
	if (e->changes && (status = change_refused(l, conn, &why)))
		return send_error(conn, status, why);
	__sync_fetch_and_add(&s->counters.served, 1);
	if (e->parse && !e->parse(&req, &parsed, &rep))
		return send_reply(conn, &rep);
	if (!e->inline_reply)
		return run_in_worker(l, conn, e, parsed);
	req.parsed = parsed;
	e->fn(s->ctx, &req, &rep);
	if (e->free_parsed && parsed)
		e->free_parsed(parsed);
	return send_reply(conn, &rep);
}

enum MHD_Result http_handle(void *cls, struct MHD_Connection *conn, const char *url,
			    const char *method, const char *version, const char *upload,
			    size_t *upload_size, void **con_cls)
{
	struct listener *l = cls;
	struct body *b = *con_cls;
	enum MHD_Result ret;

	(void)version;
	if (!b) {
		const struct http_endpoint *e;
		unsigned int status;

		const char *clen =
			MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");

		b = calloc(1, sizeof(*b));
		if (!b)
			return MHD_NO;
		e = http_endpoint_find(l->srv->table, l->srv->n, url, method, &status);
		b->limited = !(e && e->unlimited) && !bucket_take(&l->bucket);
		*con_cls = b;
		/* Announced too big: answered now, before a byte of it is read
		 * (the connection then closes). A body that grows too big
		 * unannounced is dropped as it comes, and answered at its end. */
		if (!b->limited && clen && strtoull(clen, NULL, 10) > HTTP_MAX_BODY) {
			b->too_big = b->replied = true;
			return refuse_too_large(l->srv, conn);
		}
		return MHD_YES;
	}
	if (b->replied) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size) {
		if (b->limited) {
			/* Not kept: the answer is 429 whatever it says. */
		} else if (b->too_big || b->len + *upload_size > HTTP_MAX_BODY) {
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
	http_conn_serving(l->srv, conn, true);
	ret = route(l, conn, url, method, b);
	http_conn_serving(l->srv, conn, false);
	return ret;
}

void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
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
