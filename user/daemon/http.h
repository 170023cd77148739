/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/*
 * A small HTTP server (libmicrohttpd) for a table of endpoints, built for a
 * privileged process that must not parse untrusted bytes with its
 * privileges:
 *   - the HTTP threads (a thread per connection) are started by a thread that
 *     first drops every privilege (the caller's `unprivileged` hook): they
 *     read requests, check them, parse bodies, and answer what needs nothing
 *     (`inline` endpoints such as a liveness probe);
 *   - every other endpoint runs in one of two workers, which keep what the
 *     caller of http_server_start had: one for reads, one for changes, so
 *     that a change waiting for a lock never holds up a read. A worker gets
 *     the parsed request, never its bytes;
 *   - one or two listeners (the second, when given, is the only one that
 *     serves endpoints that change state), each with its own request-rate
 *     limit; a change must come with a JSON body (or none), no Origin, and on
 *     TCP a Host that is an address or localhost (no DNS rebinding);
 *   - sending a whole request, from the connection's start or the answer to
 *     its previous one, has HTTP_REQUEST_DEADLINE_S: a slow client cannot
 *     hold a connection slot longer (the answer's time is the workers');
 *   - counters of every outcome.
 * It knows nothing of ctaccel: handlers get the context given to
 * http_server_new and fill a reply.
 */
#ifndef CTACCEL_HTTP_H
#define CTACCEL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct http_request {
	const char *body; /* NUL-terminated; "" when none (always "" in a worker) */
	size_t len;
	bool too_big; /* over HTTP_MAX_BODY: the body was dropped */
	void *parsed; /* what the endpoint's parse made of the body */
};

struct http_reply {
	unsigned int code;
	const char *type; /* Content-Type */
	char *text;	  /* malloc()ed; NULL: out of memory, answered 500 */
};

typedef void (*http_handler_fn)(void *ctx, const struct http_request *req, struct http_reply *rep);
/* In the HTTP thread, with no privilege: the body into *parsed (freed with
 * the endpoint's free_parsed), or an error reply and false. */
typedef bool (*http_parse_fn)(const struct http_request *req, void **parsed,
			      struct http_reply *rep);

struct http_endpoint {
	const char *path;
	const char *method;
	http_handler_fn fn;
	bool unlimited;	   /* probes stay answered under a request flood */
	bool changes;	   /* changes state: served only where control is allowed */
	bool inline_reply; /* answered in the HTTP thread: needs no privilege */
	http_parse_fn parse;
	void (*free_parsed)(void *parsed);
};

/* 4096 rules (the API's limit) of about 60 bytes each fit. */
#define HTTP_MAX_BODY (256 * 1024)
/* A request's whole time, headers to reply. */
#define HTTP_REQUEST_DEADLINE_S 10

/* Requests by outcome; added to atomically by the HTTP threads. */
struct http_counters {
	uint64_t served;
	uint64_t rate_limited;
	uint64_t too_large; /* also counted as served: the reply is a 413 */
	uint64_t not_found;
	uint64_t forbidden;   /* a change asked of the listener without control, or
			       * from a web page (Origin) */
	uint64_t misdirected; /* a change whose Host is a name: 421 */
	uint64_t wrong_type;  /* a change whose body is not JSON: 415 */
	uint64_t timed_out;   /* a handler that took longer than its worker allows: 503 */
	uint64_t slow_closed; /* connections closed at the deadline */
};

struct http_options {
	unsigned int rate; /* requests per second per listener (burst as many); 0: no limit */
	/* Unix sockets 0660 (their directory's group: a sidecar's fsGroup),
	 * not 0600. */
	bool unix_group;
	/* Drops every privilege the HTTP threads must not have; called in the
	 * thread that starts them, before it does. */
	int (*unprivileged)(void);
};

struct http_server;

struct http_server *http_server_new(const struct http_endpoint *table, size_t n, void *ctx,
				    const struct http_options *o);
/* Bind the listeners (in the calling thread: a low port needs its
 * privileges). `control`, when set, is the only listener that serves the
 * endpoints that change state; `listen` then answers 403 for them. */
int http_server_bind(struct http_server *s, const char *listen, const char *control, char *err,
		     size_t errlen);
/* Start the workers (with the caller's privileges) and the HTTP threads
 * (without). */
int http_server_start(struct http_server *s, char *err, size_t errlen);
/* Move to other listeners (a reload): the new ones are bound and started
 * before the old ones stop; on failure the old ones stay. 1 when anything
 * moved, 0 when nothing changed. */
int http_server_relisten(struct http_server *s, const char *listen, const char *control, char *err,
			 size_t errlen);
void http_server_set_rate(struct http_server *s, unsigned int rate);
void http_server_stop(struct http_server *s);
void http_server_free(struct http_server *s);
void http_server_counters(const struct http_server *s, struct http_counters *out);

/* Whether a unix socket may go at PATH: its directory a real one of this
 * user's that nobody else may write (or missing, with a writable parent), at
 * PATH nothing or a socket of this user's. The reason in why when not;
 * nothing is changed. */
int http_unix_dir_check(const char *path, char *why, size_t len);

/* ADDR:PORT, [ADDR6]:PORT or unix:PATH (a 0600 socket). */
int http_listen_parse(const char *spec, struct sockaddr_storage *ss, socklen_t *len);

/* Whether a Host header names an address or localhost (with a port, or
 * not): what a DNS-rebinding page cannot send. */
bool http_host_is_address(const char *host);

/* The handler for a path and method; else NULL with the HTTP status for the
 * error reply (404 or 405) in *status. */
const struct http_endpoint *http_endpoint_find(const struct http_endpoint *table, size_t n,
					       const char *url, const char *method,
					       unsigned int *status);

/* Reply helpers for handlers. */
void http_reply_text(struct http_reply *rep, unsigned int code, const char *type, const char *text);
void http_reply_error(struct http_reply *rep, unsigned int code, const char *msg);

#endif
