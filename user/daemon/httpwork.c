// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * What runs beside the HTTP threads: the workers that run handlers with the
 * process's remaining privileges, the deadline that closes slow connections,
 * and the start of threads with no privilege at all.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include "http_int.h"

void http_job_free(struct http_job *job)
{
	if (!job)
		return;
	if (job->e->free_parsed && job->req.parsed)
		job->e->free_parsed(job->req.parsed);
	free(job->rep.text);
	free(job);
}

/* ms from now on the monotonic clock, for pthread_cond_timedwait. */
static void deadline_in(struct timespec *t, unsigned int ms)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += (long)(ms % 1000) * 1000000;
	if (t->tv_nsec >= 1000000000) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000;
	}
}

/* A condition whose timed waits run on the monotonic clock. */
static void cond_init_monotonic(pthread_cond_t *c)
{
	pthread_condattr_t a;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

static void *worker_main(void *arg)
{
	struct http_worker *w = arg;
	struct http_job *job;

	pthread_mutex_lock(&w->lock);
	for (;;) {
		while (!w->head && !w->stop)
			pthread_cond_wait(&w->more, &w->lock);
		if (!w->head)
			break;
		job = w->head;
		w->head = job->next;
		if (!w->head)
			w->tail = NULL;
		/* Given up before it started: its client was told 503, so a
		 * change it carries must not happen behind its back. */
		if (job->abandoned) {
			http_job_free(job);
			continue;
		}
		job->started = true;
		pthread_mutex_unlock(&w->lock);
		job->e->fn(job->ctx, &job->req, &job->rep);
		pthread_mutex_lock(&w->lock);
		if (job->abandoned) {
			http_job_free(job);
			continue;
		}
		job->done = true;
		pthread_cond_broadcast(&w->finished);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int http_worker_start(struct http_worker *w, unsigned int timeout_ms)
{
	int err;

	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->more, NULL);
	cond_init_monotonic(&w->finished);
	w->timeout_ms = timeout_ms;
	err = pthread_create(&w->thread, NULL, worker_main, w);
	if (err)
		return -err;
	w->running = true;
	return 0;
}

int http_worker_run(struct http_worker *w, struct http_job *job)
{
	struct timespec until;
	int err = 0;

	deadline_in(&until, w->timeout_ms);
	pthread_mutex_lock(&w->lock);
	job->next = NULL;
	if (w->tail)
		w->tail->next = job;
	else
		w->head = job;
	w->tail = job;
	pthread_cond_signal(&w->more);
	while (!job->done && !err)
		err = pthread_cond_timedwait(&w->finished, &w->lock, &until);
	if (!job->done) {
		job->abandoned = true; /* the worker frees it */
		err = job->started ? -ETIMEDOUT : -EBUSY;
	} else {
		err = 0;
	}
	pthread_mutex_unlock(&w->lock);
	return err;
}

void http_worker_stop(struct http_worker *w)
{
	if (!w->running)
		return;
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_cond_signal(&w->more);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	w->running = false;
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->more);
	pthread_cond_destroy(&w->finished);
}

void http_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
		      enum MHD_ConnectionNotificationCode toe)
{
	struct http_server *s = ((struct listener *)cls)->srv;
	struct http_conn *c = *socket_context;
	const union MHD_ConnectionInfo *info;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		c = calloc(1, sizeof(*c));
		if (!c)
			return; /* no deadline for this one; the idle timeout still holds */
		c->fd = info ? fcntl(info->connect_fd, F_DUPFD_CLOEXEC, 0) : -1;
		clock_gettime(CLOCK_MONOTONIC, &c->since);
		pthread_mutex_lock(&s->conns_lock);
		c->next = s->conns.next;
		c->prev = &s->conns;
		s->conns.next->prev = c;
		s->conns.next = c;
		pthread_mutex_unlock(&s->conns_lock);
		*socket_context = c;
		return;
	}
	if (!c)
		return;
	pthread_mutex_lock(&s->conns_lock);
	c->prev->next = c->next;
	c->next->prev = c->prev;
	pthread_mutex_unlock(&s->conns_lock);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
	*socket_context = NULL;
}

void http_conn_serving(struct http_server *s, struct MHD_Connection *conn, bool serving)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct http_conn *c = info ? info->socket_context : NULL;

	if (!c)
		return;
	pthread_mutex_lock(&s->conns_lock);
	c->serving = serving;
	if (!serving)
		clock_gettime(CLOCK_MONOTONIC, &c->since);
	pthread_mutex_unlock(&s->conns_lock);
}

/* Every quarter second: shut down the connections past the deadline. The
 * connection's own thread then reads the end of its stream and closes it. */
static void *reaper_main(void *arg)
{
	struct http_server *s = arg;
	struct timespec now, until;
	struct http_conn *c;

	pthread_mutex_lock(&s->conns_lock);
	for (;;) {
		deadline_in(&until, 250);
		while (!s->reaper_stop &&
		       pthread_cond_timedwait(&s->reaper_wake, &s->conns_lock, &until) == 0)
			;
		if (s->reaper_stop)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		for (c = s->conns.next; c != &s->conns; c = c->next) {
			if (c->fd < 0 || c->serving ||
			    now.tv_sec - c->since.tv_sec < HTTP_REQUEST_DEADLINE_S)
				continue;
			shutdown(c->fd, SHUT_RDWR);
			close(c->fd);
			c->fd = -1;
			__sync_fetch_and_add(&s->counters.slow_closed, 1);
		}
	}
	pthread_mutex_unlock(&s->conns_lock);
	return NULL;
}

int http_reaper_start(struct http_server *s)
{
	int err;

	cond_init_monotonic(&s->reaper_wake);
	err = pthread_create(&s->reaper, NULL, reaper_main, s);
	if (err)
		return -err;
	s->reaping = true;
	return 0;
}

void http_reaper_stop(struct http_server *s)
{
	if (!s->reaping)
		return;
	pthread_mutex_lock(&s->conns_lock);
	s->reaper_stop = true;
	pthread_cond_signal(&s->reaper_wake);
	pthread_mutex_unlock(&s->conns_lock);
	pthread_join(s->reaper, NULL);
	pthread_cond_destroy(&s->reaper_wake);
	s->reaping = false;
}

struct unpriv {
	struct http_server *s;
	int (*fn)(void *arg);
	void *arg;
	int ret;
};

static void *unpriv_main(void *arg)
{
	struct unpriv *u = arg;

	u->ret = u->s->opts.unprivileged ? u->s->opts.unprivileged() : 0;
	if (!u->ret)
		u->ret = u->fn(u->arg);
	return NULL;
}

int http_unprivileged_run(struct http_server *s, int (*fn)(void *arg), void *arg)
{
	struct unpriv u = {.s = s, .fn = fn, .arg = arg};
	pthread_t t;
	int err;

	err = pthread_create(&t, NULL, unpriv_main, &u);
	if (err)
		return -err;
	pthread_join(t, NULL);
	return u.ret;
}
