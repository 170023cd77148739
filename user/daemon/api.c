// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * The daemon's endpoints. Every figure comes from libctaccel and every JSON
 * key from the same views as `ctaccel -j`.
 */
#include <errno.h>
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
	size_t i;

	(void)req;
	if (ctaccel_status_read(d->h, &s)) {
		http_reply_error(rep, 500, "cannot read the status");
		return;
	}
	pthread_mutex_lock(&d->conf_lock);
	for (i = 0; i < d->nunapplied; i++)
		ctaccel_status_problem(&s, "%s", d->unapplied[i]);
	pthread_mutex_unlock(&d->conf_lock);
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

/* A policy body, parsed in the HTTP thread (no privilege): the rules. */
struct rule_set {
	struct ctaccel_rule *rules;
	size_t n;
};

static bool parse_policy(const struct http_request *req, void **parsed, struct http_reply *rep)
{
	struct rule_set *set = calloc(1, sizeof(*set));
	char err[256];

	if (!set) {
		http_reply_error(rep, 500, "out of memory");
		return false;
	}
	if (ctjson_rules_parse(req->body, &set->rules, &set->n, err, sizeof(err))) {
		free(set);
		http_reply_error(rep, 400, err);
		return false;
	}
	*parsed = set;
	return true;
}

static void free_rule_set(void *parsed)
{
	struct rule_set *set = parsed;

	free(set->rules);
	free(set);
}

/* An API change that could not have its locks: 503, try again. */
static void busy_or_failed(struct http_reply *rep, int rc)
{
	if (rc == -EWOULDBLOCK)
		http_reply_error(rep, 503, "another ctaccel is changing the state: try again");
	else
		http_reply_error(rep, 500, strerror(-rc));
}

static void put_policy(void *ctx, const struct http_request *req, struct http_reply *rep)
{
	const struct rule_set *set = req->parsed;
	int rc;

	rc = daemon_policy_replace(ctx, set->rules, set->n);
	if (rc) {
		busy_or_failed(rep, rc);
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

/* A PUT /v1/config body, parsed in the HTTP thread (no privilege):
 * {"settings": {KEY: VALUE, ...}}, the shape GET answers, each value as its
 * text (a number, true or false, or a string). */
static bool parse_config(const struct http_request *req, void **parsed, struct http_reply *rep)
{
	struct config_put *p = calloc(1, sizeof(*p));
	json_t *root, *settings, *v;
	json_error_t jerr;
	const char *key;
	char err[256] = "";

	if (!p) {
		http_reply_error(rep, 500, "out of memory");
		return false;
	}
	root = json_loads(req->body, 0, &jerr);
	settings = json_object_get(root, "settings");
	if (!json_is_object(settings) || json_object_size(root) != 1)
		snprintf(err, sizeof(err), "the body is {\"settings\": {KEY: VALUE, ...}}%s%s",
			 root ? "" : ": ", root ? "" : jerr.text);
	json_object_foreach(settings, key, v)
	{
		if (err[0])
			break;
		if (p->n == CONFIG_PUT_MAX || strlen(key) >= sizeof(p->kv[0].key)) {
			snprintf(err, sizeof(err), "at most %d settings, keys of at most %zu bytes",
				 CONFIG_PUT_MAX, sizeof(p->kv[0].key) - 1);
			break;
		}
		strcpy(p->kv[p->n].key, key);
		if (json_is_integer(v))
			snprintf(p->kv[p->n].value, sizeof(p->kv[0].value), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(v));
		else if (json_is_real(v))
			snprintf(p->kv[p->n].value, sizeof(p->kv[0].value), "%.15g",
				 json_real_value(v));
		else if (json_is_boolean(v))
			strcpy(p->kv[p->n].value, json_is_true(v) ? "on" : "off");
		else if (json_is_string(v) && json_string_length(v) < sizeof(p->kv[0].value))
			strcpy(p->kv[p->n].value, json_string_value(v));
		else
			snprintf(err, sizeof(err), "%s: a number, true, false or a string", key);
		p->n++;
	}
	json_decref(root);
	if (err[0]) {
		free(p);
		http_reply_error(rep, 400, err);
		return false;
	}
	*parsed = p;
	return true;
}

static void change_json(const struct ctaccel_setting_change *c, void *ctx)
{
	json_array_append_new(ctx, ctjson_setting_change(c));
}

/* The live load settings (the timeouts, expiry-interval, the mark) on the
 * running state, as `ctaccel set` changes them: all, or nothing (400: a wrong key or
 * value; 409: one that cannot change now, and why). */
static void put_config(void *ctx, const struct http_request *req, struct http_reply *rep)
{
	json_t *changes = json_array();
	char why[CTACCEL_PROBLEM_LEN] = "";
	int rc;

	rc = daemon_config_put(ctx, req->parsed, change_json, changes, why, sizeof(why));
	/* -EBUSY: refused by the state as it is now (the mark while a UDP
	 * socket holds it) */
	if (rc == -EINVAL || rc == -EPERM || rc == -EBUSY) {
		json_decref(changes);
		http_reply_error(rep, rc == -EINVAL ? 400 : 409, why);
	} else if (rc) {
		json_decref(changes);
		busy_or_failed(rep, rc);
	} else {
		reply_json(rep, 200, json_pack("{s:o}", "changes", changes));
	}
}

static void post_gc(void *ctx, const struct http_request *req, struct http_reply *rep)
{
	struct ctaccel_gc_result r;

	int rc;

	(void)req;
	rc = daemon_gc(ctx, &r);
	if (rc)
		busy_or_failed(rep, rc);
	else
		reply_json(rep, 200, ctjson_gc(&r));
}

/* Every endpoint but /healthz runs in a worker of the HTTP server, which has
 * the daemon's capabilities; the HTTP threads that parse requests and bodies
 * have none. Probes are never rate limited. */
const struct http_endpoint api_endpoints[] = {
	{.path = "/healthz",
	 .method = "GET",
	 .fn = get_healthz,
	 .unlimited = true,
	 .inline_reply = true},
	{.path = "/readyz", .method = "GET", .fn = get_readyz, .unlimited = true},
	{.path = "/metrics", .method = "GET", .fn = get_metrics},
	{.path = "/v1/status", .method = "GET", .fn = get_status},
	{.path = "/v1/policy", .method = "GET", .fn = get_policy},
	{.path = "/v1/config", .method = "GET", .fn = get_config},
	{.path = "/v1/policy",
	 .method = "PUT",
	 .fn = put_policy,
	 .changes = true,
	 .parse = parse_policy,
	 .free_parsed = free_rule_set},
	{.path = "/v1/config",
	 .method = "PUT",
	 .fn = put_config,
	 .changes = true,
	 .parse = parse_config,
	 .free_parsed = free},
	{.path = "/v1/gc", .method = "POST", .fn = post_gc, .changes = true},
};

const size_t api_nendpoints = sizeof(api_endpoints) / sizeof(api_endpoints[0]);
