/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * A small HTTP server (libmicrohttpd) for a table of endpoints: one or two
 * listeners (the second, when given, is the only one that serves endpoints
 * that change state), a request-rate limit and body-size limit, counters of
 * every outcome. It knows nothing of ctaccel: handlers get the context given
 * to http_server_new and fill a reply.
 */
#ifndef CTACCEL_HTTP_H
#define CTACCEL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct http_request {
	const char *body; /* NUL-terminated; "" when none */
	size_t len;
	bool too_big; /* over HTTP_MAX_BODY: the body was dropped */
};

struct http_reply {
	unsigned int code;
	const char *type; /* Content-Type */
	char *text;	  /* malloc()ed; NULL: out of memory, answered 500 */
};

typedef void (*http_handler_fn)(void *ctx, const struct http_request *req, struct http_reply *rep);

struct http_endpoint {
	const char *path;
	const char *method;
	http_handler_fn fn;
	bool unlimited; /* liveness probes stay answered under a request flood */
	bool changes;	/* changes state: served only where control is allowed */
};

/* 4096 rules (the API's limit) of about 60 bytes each fit. */
#define HTTP_MAX_BODY (256 * 1024)

/* Requests by outcome; added to atomically by the HTTP threads. */
struct http_counters {
	uint64_t served;
	uint64_t rate_limited;
	uint64_t too_large; /* also counted as served: the reply is a 413 */
	uint64_t not_found;
	uint64_t forbidden; /* a change asked of the listener without control */
};

struct http_server;

struct http_server *http_server_new(const struct http_endpoint *table, size_t n, void *ctx,
				    unsigned int rate);
/* `control`, when set, is the only listener that serves the endpoints that
 * change state; `listen` then answers 403 for them. Messages in err. */
int http_server_listen(struct http_server *s, const char *listen, const char *control, char *err,
		       size_t errlen);
void http_server_stop(struct http_server *s);
void http_server_free(struct http_server *s);
void http_server_counters(const struct http_server *s, struct http_counters *out);

/* Whether PATH's directory exists, or can be made (its parent exists and
 * is writable); the reason in why when not. */
int http_unix_dir_check(const char *path, char *why, size_t len);

/* ADDR:PORT, [ADDR6]:PORT or unix:PATH (a 0600 socket). */
int http_listen_parse(const char *spec, struct sockaddr_storage *ss, socklen_t *len);

/* The handler for a path and method; else NULL with the HTTP status for the
 * error reply (404 or 405) in *status. */
const struct http_endpoint *http_endpoint_find(const struct http_endpoint *table, size_t n,
					       const char *url, const char *method,
					       unsigned int *status);

/* Reply helpers for handlers. */
void http_reply_text(struct http_reply *rep, unsigned int code, const char *type, const char *text);
void http_reply_error(struct http_reply *rep, unsigned int code, const char *msg);

#endif
