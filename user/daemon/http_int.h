/* SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause) */
/* The HTTP server's insides, shared by http.c (listeners, requests) and
 * httpwork.c (the workers, the connection deadline). */
#ifndef CTACCEL_HTTP_INT_H
#define CTACCEL_HTTP_INT_H

#include <pthread.h>
#include <time.h>
#include <microhttpd.h>
#include "http.h"

/* How long a request waits for its handler in a worker. A change waits for
 * the state's lock, which its handler bounds itself (daemon.h, API_LOCK_MS). */
#define READ_WAIT_MS   10000
#define CHANGE_WAIT_MS 30000

/* One token bucket per listener: `rate` requests per second with a burst of
 * as many. A flood of one listener gets 429s, counted; the other listener
 * and the probes are not its to starve. */
struct bucket {
	pthread_mutex_t lock;
	unsigned int rate;
	double tokens;
	struct timespec last;
};

struct listener {
	struct http_server *srv;
	struct MHD_Daemon *mhd;
	int fd; /* bound, not yet handed to MHD; -1 once it is */
	char spec[256];
	char unix_path[108];
	bool control; /* may serve the endpoints that change state */
	bool tcp;     /* Host is checked on changes */
	struct bucket bucket;
};

/* A handler's run in a worker. A job the HTTP thread stopped waiting for
 * (abandoned) is freed by the worker when it is done. */
struct http_job {
	const struct http_endpoint *e;
	void *ctx;
	struct http_request req;
	struct http_reply rep;
	bool started, done, abandoned;
	struct http_job *next;
};

struct http_worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t more, finished;
	struct http_job *head, *tail;
	unsigned int timeout_ms; /* how long a request waits for its handler */
	bool running, stop;
};

/* An open connection, for the deadline: a duplicate of its socket, so that
 * a shutdown reaches this connection even after MHD closed its own
 * descriptor and the number was reused. */
struct http_conn {
	struct http_conn *prev, *next;
	int fd;
	struct timespec since; /* accepted, or its last request answered */
	bool serving;	       /* its request is whole and being answered */
};

struct http_server {
	const struct http_endpoint *table;
	size_t n;
	void *ctx;
	struct http_options opts;
	struct listener *listeners[2];
	struct http_worker reads, changes;
	struct http_counters counters;
	/* the connection deadline's list and its thread */
	pthread_mutex_t conns_lock;
	struct http_conn conns; /* a ring: conns.next is the first */
	pthread_t reaper;
	pthread_cond_t reaper_wake; /* its stop */
	bool reaping, reaper_stop;
};

/* http.c: libmicrohttpd's callbacks for a listener (cls). */
enum MHD_Result http_handle(void *cls, struct MHD_Connection *conn, const char *url,
			    const char *method, const char *version, const char *upload,
			    size_t *upload_size, void **con_cls);
void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
		    enum MHD_RequestTerminationCode toe);

/* httpwork.c */
int http_worker_start(struct http_worker *w, unsigned int timeout_ms);
/* Run a heap job in the worker and wait, at most the worker's timeout: 0;
 * -EBUSY if it never started (it never will); -ETIMEDOUT if it started and
 * is still running. The worker frees a job not waited for. */
int http_worker_run(struct http_worker *w, struct http_job *job);
void http_worker_stop(struct http_worker *w);
void http_job_free(struct http_job *job);

/* libmicrohttpd's connection notification: the deadline's bookkeeping. */
void http_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
		      enum MHD_ConnectionNotificationCode toe);
/* The deadline is for sending a request: none while the server answers it
 * (the workers bound that), and a new one once it is answered. */
void http_conn_serving(struct http_server *s, struct MHD_Connection *conn, bool serving);
int http_reaper_start(struct http_server *s);
void http_reaper_stop(struct http_server *s);

/* Run fn(arg) in a new thread that first drops privileges (opts.unprivileged),
 * and wait for it: every thread fn starts has no privilege either. */
int http_unprivileged_run(struct http_server *s, int (*fn)(void *arg), void *arg);

#endif
