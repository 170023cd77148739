// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * The daemon's HTTP side (libmicrohttpd): Prometheus metrics, health, and the
 * control API for an operator sidecar. Every figure comes from the same
 * readers as the CLI's JSON.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <microhttpd.h>
#include "daemon.h"

/* 4096 rules (the API's limit) of about 60 bytes each fit. */
#define MAX_BODY (256 * 1024)

/* The main listener, and the control listener when the control API has its
 * own (then only it changes anything). */
struct listener {
	struct MHD_Daemon *mhd;
	char unix_path[108];
	bool control; /* may serve the endpoints that change state */
};

static struct listener listeners[2];

static const char *const tcp_state_names[CTACCEL_TCP_STATE_SLOTS] = {
#define X(name, num) [num] = #name,
	CTACCEL_TCP_STATES(X)
#undef X
};

static const char *const repair_names[REPAIR__MAX] = {
	[REPAIR_POLICY] = "policy",
	[REPAIR_NFT] = "nft_table",
	[REPAIR_DEVICE] = "device",
	[REPAIR_IFACE] = "device_record",
};

struct body {
	char *data;
	size_t len;
	bool too_big;
	bool limited; /* over the request rate: answered 429 */
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int code, const char *type,
			     char *text)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	MHD_add_response_header(r, "Content-Type", type);
	ret = MHD_queue_response(conn, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *conn, unsigned int code, json_t *v)
{
	char *text = json_dumps(v, JSON_COMPACT);

	json_decref(v);
	if (!text)
		text = strdup("{}");
	return reply(conn, code, "application/json", text);
}

static enum MHD_Result reply_error(struct MHD_Connection *conn, unsigned int code, const char *msg)
{
	return reply_json(conn, code, json_pack("{s:s}", "error", msg));
}

static void metric_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static char *metrics_text(void)
{
	__u64 host[CTACCEL_TCP_STATE_SLOTS] = {};
	struct ctaccel_stats st;
	char *buf = NULL, name[128];
	size_t len = 0;
	__s64 flows = 0;
	FILE *f;
	int i;

	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	metric_head(f, "ctaccel_build_info", "gauge", "ctaccel version, always 1");
	fprintf(f, "ctaccel_build_info{version=\"%s\",abi=\"%d\"} 1\n", CTACCEL_VERSION,
		CTACCEL_ABI_VERSION);
	if (ctaccel_stats_read(d.pins.stats_fd, &st) == 0) {
		metric_head(f, "ctaccel_flows", "gauge", "Tracked flows by TCP state");
		for (i = 1; i < CTACCEL_ST__MAX; i++) {
			flows += st.flows_in_state[i];
			fprintf(f, "ctaccel_flows{state=\"%s\"} %lld\n", ctaccel_state_names[i],
				(long long)st.flows_in_state[i]);
		}
		metric_head(f, "ctaccel_table_capacity_flows", "gauge", "Flow table capacity");
		fprintf(f, "ctaccel_table_capacity_flows %u\n", d.pins.max_flows);
		metric_head(f, "ctaccel_table_fill_ratio", "gauge", "Flow table fill, 0 to 1");
		fprintf(f, "ctaccel_table_fill_ratio %g\n",
			d.pins.max_flows ? (double)flows / d.pins.max_flows : 0.0);
		for (i = 0; i < CTACCEL_CTR__MAX; i++) {
			snprintf(name, sizeof(name), "ctaccel_%s_total", ctaccel_counter_names[i]);
			metric_head(f, name, "counter", ctaccel_counter_help[i]);
			fprintf(f, "%s %llu\n", name, (unsigned long long)ctaccel_counter(&st, i));
		}
	}
	if (host_socket_states(host) == 0) {
		metric_head(f, "ctaccel_host_sockets", "gauge",
			    "Host TCP sockets of the daemon's namespace by state");
		for (i = 1; i < CTACCEL_TCP_STATE_SLOTS; i++)
			if (tcp_state_names[i])
				fprintf(f, "ctaccel_host_sockets{state=\"%s\"} %llu\n",
					tcp_state_names[i], (unsigned long long)host[i]);
		metric_head(f, "ctaccel_host_time_wait_sockets", "gauge",
			    "Host TCP sockets in TIME_WAIT");
		fprintf(f, "ctaccel_host_time_wait_sockets %llu\n",
			(unsigned long long)host[TCP_TIME_WAIT]);
	}
	pthread_mutex_lock(&d.lock);
	metric_head(f, "ctaccel_gc_runs_total", "counter", "GC passes");
	fprintf(f, "ctaccel_gc_runs_total %llu\n", (unsigned long long)d.gc_runs);
	metric_head(f, "ctaccel_gc_deleted_flows_total", "counter", "Flows removed by GC");
	fprintf(f, "ctaccel_gc_deleted_flows_total %llu\n", (unsigned long long)d.gc_deleted);
	metric_head(f, "ctaccel_gc_errors_total", "counter", "GC passes that failed");
	fprintf(f, "ctaccel_gc_errors_total %llu\n", (unsigned long long)d.gc_errors);
	metric_head(f, "ctaccel_gc_duration_seconds_total", "counter", "Time spent in GC");
	fprintf(f, "ctaccel_gc_duration_seconds_total %g\n", d.gc_seconds_total);
	metric_head(f, "ctaccel_gc_last_duration_seconds", "gauge", "Duration of the last GC pass");
	fprintf(f, "ctaccel_gc_last_duration_seconds %g\n", d.gc_last_seconds);
	metric_head(f, "ctaccel_repairs_total", "counter",
		    "Things put right that changed behind the daemon's back");
	for (i = 0; i < REPAIR__MAX; i++)
		fprintf(f, "ctaccel_repairs_total{what=\"%s\"} %llu\n", repair_names[i],
			(unsigned long long)d.repairs[i]);
	metric_head(f, "ctaccel_repair_errors_total", "counter", "Repairs that failed");
	fprintf(f, "ctaccel_repair_errors_total %llu\n", (unsigned long long)d.repair_errors);
	pthread_mutex_unlock(&d.lock);
	metric_head(f, "ctaccel_http_requests_total", "counter",
		    "Control API and metrics requests, by outcome");
	fprintf(f, "ctaccel_http_requests_total{outcome=\"served\"} %llu\n",
		(unsigned long long)http_counters.served);
	fprintf(f, "ctaccel_http_requests_total{outcome=\"rate_limited\"} %llu\n",
		(unsigned long long)http_counters.rate_limited);
	fprintf(f, "ctaccel_http_requests_total{outcome=\"too_large\"} %llu\n",
		(unsigned long long)http_counters.too_large);
	fprintf(f, "ctaccel_http_requests_total{outcome=\"not_found\"} %llu\n",
		(unsigned long long)http_counters.not_found);
	fprintf(f, "ctaccel_http_requests_total{outcome=\"forbidden\"} %llu\n",
		(unsigned long long)http_counters.forbidden);
	fclose(f);
	return buf;
}

/* Every configured device has both programs attached, and the maps answer. */
static bool ready(void)
{
	struct ctaccel_stats st;
	json_t *s, *dev;
	size_t k;
	int i, ok = 0;

	if (ctaccel_stats_read(d.pins.stats_fd, &st))
		return false;
	s = status_json(&d.pins);
	for (i = 0; i < d.ndev; i++)
		json_array_foreach(json_object_get(s, "devices"), k, dev)
		{
			if (!strcmp(json_string_value(json_object_get(dev, "name")),
				    d.devices[i]) &&
			    json_is_true(json_object_get(dev, "ingress")) &&
			    json_is_true(json_object_get(dev, "egress")))
				ok++;
		}
	json_decref(s);
	return ok == d.ndev;
}

int http_policy_parse(const char *text, struct rule_set **out, size_t *n, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root = json_loads(text, 0, &je), *rules, *r;
	struct rule_set *set = NULL;
	size_t i;

	if (!root) {
		snprintf(err, errlen, "body is not JSON: %s", je.text);
		return -EINVAL;
	}
	rules = json_object_get(root, "rules");
	if (!json_is_array(rules) || json_array_size(rules) > 4096) {
		snprintf(err, errlen, "expected {\"rules\": [...]} with at most 4096 rules");
		json_decref(root);
		return -EINVAL;
	}
	set = calloc(json_array_size(rules) + 1, sizeof(*set));
	if (!set) {
		snprintf(err, errlen, "out of memory");
		json_decref(root);
		return -ENOMEM;
	}
	json_array_foreach(rules, i, r)
	{
		json_t *prefix = json_object_get(r, "prefix"), *port = json_object_get(r, "port");
		char pbuf[16], *argv[3];
		int argc = 1;

		if (!json_is_string(prefix) ||
		    (port && !json_is_integer(port) && !json_is_null(port)) ||
		    json_object_size(r) != 1U + (port != NULL)) {
			snprintf(err, errlen,
				 "rule %zu: expected {\"prefix\": STRING, \"port\": INT}", i);
			goto bad;
		}
		argv[0] = (char *)json_string_value(prefix);
		if (json_is_integer(port)) {
			snprintf(pbuf, sizeof(pbuf), "%lld", (long long)json_integer_value(port));
			argv[1] = (char *)"port";
			argv[2] = pbuf;
			argc = 3;
		}
		if (policy_rule_parse(argc, argv, &set[i])) {
			snprintf(err, errlen, "rule %zu: bad prefix or port", i);
			goto bad;
		}
	}
	*n = json_array_size(rules);
	*out = set;
	json_decref(root);
	return 0;
bad:
	free(set);
	json_decref(root);
	return -EINVAL;
}

static enum MHD_Result get_healthz(struct MHD_Connection *conn, struct body *b)
{
	(void)b;
	return reply(conn, 200, "text/plain", strdup("ok\n"));
}

static enum MHD_Result get_readyz(struct MHD_Connection *conn, struct body *b)
{
	(void)b;
	return ready() ? reply(conn, 200, "text/plain", strdup("ready\n"))
		       : reply(conn, 503, "text/plain", strdup("not ready\n"));
}

static enum MHD_Result get_metrics(struct MHD_Connection *conn, struct body *b)
{
	char *text = metrics_text();

	(void)b;
	return text ? reply(conn, 200, "text/plain; version=0.0.4", text)
		    : reply_error(conn, 500, "out of memory");
}

static enum MHD_Result get_status(struct MHD_Connection *conn, struct body *b)
{
	(void)b;
	return reply_json(conn, 200, status_json(&d.pins));
}

static enum MHD_Result get_policy(struct MHD_Connection *conn, struct body *b)
{
	json_t *p = policy_json(&d.pins);

	(void)b;
	return p ? reply_json(conn, 200, json_pack("{s:o}", "rules", p))
		 : reply_error(conn, 500, "cannot read the policy");
}

static enum MHD_Result put_policy(struct MHD_Connection *conn, struct body *b)
{
	struct rule_set *set = NULL;
	char err[256];
	size_t n = 0;
	int rc, lock;

	if (b->too_big)
		return reply_error(conn, 413, "body larger than 256 KiB");
	if (http_policy_parse(b->data ? b->data : "", &set, &n, err, sizeof(err)))
		return reply_error(conn, 400, err);
	/* The CLI lock too: a concurrent `ctaccel policy add` edits the trie
	 * this swap replaces. */
	pthread_mutex_lock(&d.lock);
	lock = cli_lock();
	rc = lock < 0 ? lock : policy_replace(&d.pins, set, n);
	cli_unlock(lock);
	pthread_mutex_unlock(&d.lock);
	free(set);
	if (rc)
		return reply_error(conn, 500, strerror(-rc));
	return reply_json(conn, 200, json_pack("{s:o}", "rules", policy_json(&d.pins)));
}

static enum MHD_Result post_gc(struct MHD_Connection *conn, struct body *b)
{
	struct ctaccel_gc_result r;

	(void)b;
	if (daemon_gc(&r))
		return reply_error(conn, 500, "gc failed");
	return reply_json(conn, 200,
			  json_pack("{s:I,s:I,s:I}", "scanned", (json_int_t)r.scanned, "expired",
				    (json_int_t)r.expired, "deleted", (json_int_t)r.deleted));
}

struct http_endpoint {
	const char *path;
	const char *method;
	enum MHD_Result (*fn)(struct MHD_Connection *conn, struct body *b);
	bool unlimited; /* liveness probes stay answered under a request flood */
	bool changes;	/* changes state: served only where control is allowed */
};

static const struct http_endpoint endpoints[] = {
	{"/healthz", "GET", get_healthz, true, false},
	{"/readyz", "GET", get_readyz, false, false},
	{"/metrics", "GET", get_metrics, false, false},
	{"/v1/status", "GET", get_status, false, false},
	{"/v1/policy", "GET", get_policy, false, false},
	{"/v1/policy", "PUT", put_policy, false, true},
	{"/v1/gc", "POST", post_gc, false, true},
};

const struct http_endpoint *http_endpoint_find(const char *url, const char *method,
					       unsigned int *status)
{
	size_t i;

	*status = 404;
	for (i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
		if (strcmp(url, endpoints[i].path))
			continue;
		if (!strcmp(method, endpoints[i].method))
			return &endpoints[i];
		*status = 405;
	}
	return NULL;
}

/*
 * One token bucket for the whole listener: `rate` requests per second with a
 * burst of as many. A flood gets 429s, counted, instead of the daemon's CPU.
 */
static struct {
	pthread_mutex_t lock;
	unsigned int rate;
	double tokens;
	struct timespec last;
} bucket = {.lock = PTHREAD_MUTEX_INITIALIZER};

static bool bucket_take(void)
{
	struct timespec now;
	bool ok;

	if (!bucket.rate)
		return true;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&bucket.lock);
	bucket.tokens += (now.tv_sec - bucket.last.tv_sec) * (double)bucket.rate +
			 (now.tv_nsec - bucket.last.tv_nsec) * 1e-9 * bucket.rate;
	if (bucket.tokens > bucket.rate)
		bucket.tokens = bucket.rate;
	bucket.last = now;
	ok = bucket.tokens >= 1.0;
	if (ok)
		bucket.tokens -= 1.0;
	pthread_mutex_unlock(&bucket.lock);
	return ok;
}

struct http_counters http_counters;

static enum MHD_Result route(const struct listener *l, struct MHD_Connection *conn, const char *url,
			     const char *method, struct body *b)
{
	const struct http_endpoint *e;
	unsigned int status;

	if (b->limited) {
		__sync_fetch_and_add(&http_counters.rate_limited, 1);
		return reply_error(conn, 429, "too many requests");
	}
	if (b->too_big)
		__sync_fetch_and_add(&http_counters.too_large, 1);
	e = http_endpoint_find(url, method, &status);
	if (!e) {
		__sync_fetch_and_add(&http_counters.not_found, 1);
		return reply_error(conn, status,
				   status == 405 ? "method not allowed" : "no such resource");
	}
	if (e->changes && !l->control) {
		__sync_fetch_and_add(&http_counters.forbidden, 1);
		return reply_error(conn, 403, "the control API is served on its own socket");
	}
	__sync_fetch_and_add(&http_counters.served, 1);
	return e->fn(conn, b);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	struct body *b = *con_cls;

	(void)version;
	if (!b) {
		const struct http_endpoint *e;
		unsigned int status;

		b = calloc(1, sizeof(*b));
		if (!b)
			return MHD_NO;
		e = http_endpoint_find(url, method, &status);
		b->limited = !(e && e->unlimited) && !bucket_take();
		*con_cls = b;
		return MHD_YES;
	}
	if (*upload_size) {
		if (b->limited) {
			/* Not kept: the answer is 429 whatever it says. */
		} else if (b->len + *upload_size > MAX_BODY) {
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
	return route(cls, conn, url, method, b);
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

		_Static_assert(sizeof(listeners[0].unix_path) == sizeof(un->sun_path),
			       "unix path size");
		memcpy(unix_path, un->sun_path, sizeof(un->sun_path));
		unlink(unix_path);
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

static int listener_start(struct listener *l, const char *spec, bool control)
{
	int fd = listen_socket(spec, l->unix_path);

	if (fd < 0) {
		pr_err("listen %s: %s", spec, strerror(-fd));
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
		pr_err("listen %s: cannot start the HTTP server", spec);
		close(fd);
		return -EIO;
	}
	return 0;
}

int http_start(const char *listen, const char *control, unsigned int rate)
{
	int err;

	bucket.rate = rate;
	bucket.tokens = rate;
	clock_gettime(CLOCK_MONOTONIC, &bucket.last);
	err = listener_start(&listeners[0], listen, !control || !*control);
	if (!err && control && *control) {
		err = listener_start(&listeners[1], control, true);
		if (err)
			http_stop();
	}
	return err;
}

void http_stop(void)
{
	size_t i;

	for (i = 0; i < sizeof(listeners) / sizeof(listeners[0]); i++) {
		if (listeners[i].mhd)
			MHD_stop_daemon(listeners[i].mhd);
		listeners[i].mhd = NULL;
		if (listeners[i].unix_path[0])
			unlink(listeners[i].unix_path);
		listeners[i].unix_path[0] = 0;
	}
}
