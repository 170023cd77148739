// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * The daemon's endpoints. Every figure comes from libctaccel and every JSON
 * key from the same views as `ctaccel -j`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "api.h"
#include "ctjson.h"
#include "daemon.h"
#include "metrics.h"

static void reply_json(struct http_reply *rep, unsigned int code, json_t *v)
{
	rep->code = code;
	rep->type = "application/json";
	rep->text = v ? json_dumps(v, JSON_COMPACT) : NULL;
	json_decref(v);
}

static void get_healthz(void *ctx, const struct http_request *req, struct http_reply *rep)
{
	(void)ctx;
	(void)req;
	http_reply_text(rep, 200, "text/plain", "ok\n");
}

static void get_readyz(void *ctx, const struct http_request *req, struct http_reply *rep)
{
	(void)req;
	if (daemon_ready(ctx))
		http_reply_text(rep, 200, "text/plain", "ready\n");
	else
		http_reply_text(rep, 503, "text/plain", "not ready\n");
}

static void get_metrics(void *ctx, const struct http_request *req, struct http_reply *rep)
{
	(void)req;
	rep->code = 200;
	rep->type = "text/plain; version=0.0.4";
	rep->text = metrics_text(ctx);
}

static void get_status(void *ctx, const struct http_request *req, struct http_reply *rep)
{
	struct daemon *d = ctx;
	struct ctaccel_status s;

	(void)req;
	if (ctaccel_status_read(d->h, &s)) {
		http_reply_error(rep, 500, "cannot read the status");
		return;
	}
	reply_json(rep, 200, ctjson_status(&s, ctaccel_pin_root(d->h)));
	ctaccel_status_free(&s);
}

static void policy_reply(struct daemon *d, struct http_reply *rep)
{
	struct ctaccel_rule *rules;
	size_t n;

	if (ctaccel_policy_read(d->h, &rules, &n)) {
		http_reply_error(rep, 500, "cannot read the policy");
		return;
	}
	reply_json(rep, 200, json_pack("{s:o}", "rules", ctjson_rules(rules, n)));
	free(rules);
}

static void get_policy(void *ctx, const struct http_request *req, struct http_reply *rep)
{
	(void)req;
	policy_reply(ctx, rep);
}

static void put_policy(void *ctx, const struct http_request *req, struct http_reply *rep)
{
	struct ctaccel_rule *rules = NULL;
	char err[256];
	size_t n = 0;
	int rc;

	if (req->too_big) {
		http_reply_error(rep, 413, "body larger than 256 KiB");
		return;
	}
	if (ctjson_rules_parse(req->body, &rules, &n, err, sizeof(err))) {
		http_reply_error(rep, 400, err);
		return;
	}
	rc = daemon_policy_replace(ctx, rules, n);
	free(rules);
	if (rc) {
		http_reply_error(rep, 500, strerror(-rc));
		return;
	}
	policy_reply(ctx, rep);
}

/* The daemon's settings in force: its own and the load settings it loads
 * with (adopted state keeps its own: /v1/status shows those). */
static void get_config(void *ctx, const struct http_request *req, struct http_reply *rep)
{
	const struct ctaccel_setting *tables[] = {daemon_settings, ctaccel_load_settings};
	struct daemon *d = ctx;
	const void *bases[2];
	json_t *v;

	(void)req;
	pthread_mutex_lock(&d->conf_lock);
	bases[0] = &d->conf;
	bases[1] = &d->conf.load;
	v = ctjson_settings(tables, bases, 2);
	pthread_mutex_unlock(&d->conf_lock);
	reply_json(rep, 200, v);
}

static void post_gc(void *ctx, const struct http_request *req, struct http_reply *rep)
{
	struct ctaccel_gc_result r;

	(void)req;
	if (daemon_gc(ctx, &r))
		http_reply_error(rep, 500, "gc failed");
	else
		reply_json(rep, 200, ctjson_gc(&r));
}

const struct http_endpoint api_endpoints[] = {
	{"/healthz", "GET", get_healthz, true, false},
	{"/readyz", "GET", get_readyz, false, false},
	{"/metrics", "GET", get_metrics, false, false},
	{"/v1/status", "GET", get_status, false, false},
	{"/v1/policy", "GET", get_policy, false, false},
	{"/v1/config", "GET", get_config, false, false},
	{"/v1/policy", "PUT", put_policy, false, true},
	{"/v1/gc", "POST", post_gc, false, true},
};

const size_t api_nendpoints = sizeof(api_endpoints) / sizeof(api_endpoints[0]);
