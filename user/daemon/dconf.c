// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * The daemon's configuration: an INI file (libinih) and flags over it, every
 * key through one setter that hands values to libctaccel's checks, so a bad
 * value is refused once, with one reason.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <ini.h>
#include "daemon.h"
#include "http.h"

int dconf_defaults(struct dconf *c, const char *pin_path)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof(c->listen), "127.0.0.1:9474");
	snprintf(c->pin_path, sizeof(c->pin_path), "%s", pin_path ? pin_path : CTACCEL_PIN_DEFAULT);
	c->gc_interval = CTACCEL_EXPIRY_INTERVAL_MS / 1000;
	c->http_rate = 50;
	c->repair_interval = 5;
	if (ctaccel_load_opts_default(&c->load)) {
		snprintf(c->err, sizeof(c->err),
			 "cannot tell the kernel's HZ from CLOCK_MONOTONIC_COARSE");
		return -EINVAL;
	}
	return 0;
}

void dconf_free(struct dconf *c)
{
	int i;

	for (i = 0; i < c->ndev; i++)
		free(c->devices[i]);
	c->ndev = 0;
}

static int add_devices(struct dconf *c, const char *list)
{
	char *dup = strdup(list), *tok, *save = NULL;

	if (!dup)
		return -ENOMEM;
	for (tok = strtok_r(dup, " ,\t", &save); tok; tok = strtok_r(NULL, " ,\t", &save)) {
		if (c->ndev == DCONF_MAX_DEVICES || strlen(tok) >= IF_NAMESIZE) {
			snprintf(c->err, sizeof(c->err), "device '%s': too many or name too long",
				 tok);
			free(dup);
			return -EINVAL;
		}
		c->devices[c->ndev] = strdup(tok);
		if (!c->devices[c->ndev]) {
			free(dup);
			return -ENOMEM;
		}
		c->ndev++;
	}
	free(dup);
	return 0;
}

/* CTACCEL_RULE_SYNTAX */
static int add_policy(struct dconf *c, const char *text)
{
	char buf[256], *words[6], *save = NULL, *tok, why[160];
	struct ctaccel_rule *r = &c->rules[c->nrules];
	int n = 0;

	c->policy_given = true;
	if (c->nrules == DCONF_MAX_RULES) {
		snprintf(c->err, sizeof(c->err), "more than %d policy rules", DCONF_MAX_RULES);
		return -E2BIG;
	}
	snprintf(buf, sizeof(buf), "%s", text);
	for (tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (n == 6)
			goto bad;
		words[n++] = tok;
	}
	if (ctaccel_rule_words(n, words, r, why, sizeof(why)))
		goto bad;
	c->nrules++;
	return 0;
bad:
	snprintf(c->err, sizeof(c->err), "policy '%s' is not %s", text, CTACCEL_RULE_SYNTAX);
	return -EINVAL;
}

static int set_number(struct dconf *c, const char *key, const char *value, unsigned int *dst,
		      uint32_t min, uint32_t max, const char *range)
{
	uint32_t n;

	if (ctaccel_parse_u32(value, &n) || n < min || n > max) {
		snprintf(c->err, sizeof(c->err), "%s '%s': %s", key, value, range);
		return -EINVAL;
	}
	*dst = n;
	return 0;
}

static int set_listen(struct dconf *c, const char *key, const char *value)
{
	char *dst = !strcmp(key, "listen") ? c->listen : c->control_listen;
	char why[160];
	struct sockaddr_storage ss;
	socklen_t len;

	if (strlen(value) >= sizeof(c->listen) || http_listen_parse(value, &ss, &len)) {
		snprintf(c->err, sizeof(c->err),
			 "%s '%s': expected ADDR:PORT, [ADDR6]:PORT or unix:PATH", key, value);
		return -EINVAL;
	}
	/* The daemon makes a missing socket directory, where it can: what it
	 * cannot do at start (a read-only /run under ProtectSystem=strict
	 * without RuntimeDirectory=) is refused here already. */
	if (ss.ss_family == AF_UNIX && http_unix_dir_check(value + 5, why, sizeof(why))) {
		snprintf(c->err, sizeof(c->err), "%s '%s': %s", key, value, why);
		return -EINVAL;
	}
	snprintf(dst, sizeof(c->listen), "%s", value);
	return 0;
}

/* max_flows, unreplied_max, mark, timeout_STATE: the values `ctaccel load` takes. */
static int set_load(struct dconf *c, const char *key, const char *value)
{
	uint32_t a, b;

	if (!strcmp(key, "max_flows")) {
		if (ctaccel_parse_u32(value, &a)) {
			snprintf(c->err, sizeof(c->err), "max_flows '%s': not a number", value);
			return -EINVAL;
		}
		return ctaccel_set_max_flows(&c->load, a, c->err, sizeof(c->err));
	}
	if (!strcmp(key, "unreplied_max")) {
		if (ctaccel_parse_u32(value, &a)) {
			snprintf(c->err, sizeof(c->err), "unreplied_max '%s': not a number", value);
			return -EINVAL;
		}
		return ctaccel_set_unreplied_max(&c->load, a, c->err, sizeof(c->err));
	}
	if (!strcmp(key, "mark")) {
		if (ctaccel_parse_mark(value, &a, &b)) {
			snprintf(c->err, sizeof(c->err), "mark '%s': expected VALUE/MASK", value);
			return -EINVAL;
		}
		return ctaccel_set_mark(&c->load, a, b, c->err, sizeof(c->err));
	}
	if (ctaccel_parse_u32(value, &a)) {
		snprintf(c->err, sizeof(c->err), "%s '%s': not a number of seconds", key, value);
		return -EINVAL;
	}
	return ctaccel_set_timeout(&c->load, key + strlen("timeout_"), a, c->err, sizeof(c->err));
}

int dconf_set(struct dconf *c, const char *key, const char *value)
{
	if (!strcmp(key, "device") || !strcmp(key, "devices"))
		return add_devices(c, value);
	if (!strcmp(key, "listen") || !strcmp(key, "control_listen"))
		return set_listen(c, key, value);
	if (!strcmp(key, "pin_path")) {
		snprintf(c->pin_path, sizeof(c->pin_path), "%s", value);
		return 0;
	}
	if (!strcmp(key, "gc_interval"))
		return set_number(c, key, value, &c->gc_interval, 1, 3600, "1 to 3600 seconds");
	if (!strcmp(key, "repair_interval"))
		return set_number(c, key, value, &c->repair_interval, 0, 3600,
				  "0 (off) to 3600 seconds");
	if (!strcmp(key, "http_rate"))
		return set_number(c, key, value, &c->http_rate, 0, 100000,
				  "0 (no limit) to 100000 requests per second");
	if (!strcmp(key, "policy"))
		return add_policy(c, value);
	if (!strcmp(key, "cgroup"))
		return ctaccel_set_cgroup(&c->load, value, c->err, sizeof(c->err));
	if (!strcmp(key, "local")) {
		if (strcmp(value, "on") && strcmp(value, "off")) {
			snprintf(c->err, sizeof(c->err), "local '%s': expected on or off", value);
			return -EINVAL;
		}
		ctaccel_set_local(&c->load, !strcmp(value, "on"));
		return 0;
	}
	if (!strcmp(key, "detach_on_exit")) {
		c->detach_on_exit =
			!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1");
		return 0;
	}
	if (!strcmp(key, "max_flows") || !strcmp(key, "unreplied_max") || !strcmp(key, "mark") ||
	    !strncmp(key, "timeout_", 8))
		return set_load(c, key, value);
	snprintf(c->err, sizeof(c->err), "unknown key '%s'", key);
	return -ENOENT;
}

static int conf_line(void *user, const char *section, const char *name, const char *value)
{
	struct dconf *c = user;
	int err;

	if (*section && strcmp(section, "ctaccel")) {
		snprintf(c->err, sizeof(c->err), "unknown section [%s]", section);
		return 0;
	}
	err = dconf_set(c, name, value);
	if (err && !c->err[0])
		snprintf(c->err, sizeof(c->err), "bad value for '%s': '%s'", name, value);
	return err ? 0 : 1;
}

/* libinih refuses a line without '=' (or an unclosed section) before any
 * handler runs: the reason is then the syntax. */
static void conf_syntax_reason(struct dconf *c, int line)
{
	if (line > 0 && !c->err[0])
		snprintf(c->err, sizeof(c->err), "not KEY = VALUE or [section]");
}

int daemon_conf_check(const char *text, char *err, size_t errlen)
{
	struct dconf *c = malloc(sizeof(*c));
	int line;

	if (!c)
		return -ENOMEM;
	if (dconf_defaults(c, NULL)) {
		free(c);
		return -EINVAL;
	}
	line = ini_parse_string(text, conf_line, c);
	conf_syntax_reason(c, line);
	snprintf(err, errlen, "%s", c->err);
	dconf_free(c);
	free(c);
	return line;
}

static int read_file(struct dconf *c, const char *file)
{
	int line = ini_parse(file, conf_line, c);
	char why[sizeof(c->err)];

	conf_syntax_reason(c, line);
	snprintf(why, sizeof(why), "%s", c->err);
	if (line < 0) {
		snprintf(c->err, sizeof(c->err), "config %s: cannot open", file);
		return -ENOENT;
	}
	if (line > 0) {
		snprintf(c->err, sizeof(c->err), "config %s:%d: %.200s", file, line, why);
		return -EINVAL;
	}
	return 0;
}

static const struct option flag_opts[] = {
	{"config", required_argument, NULL, 'c'},
	{"device", required_argument, NULL, 'D'},
	/* The file's key, with '_' for '-'. */
	{"listen", required_argument, NULL, 'K'},
	{"control-listen", required_argument, NULL, 'K'},
	{"pin-path", required_argument, NULL, 'K'},
	{"gc-interval", required_argument, NULL, 'K'},
	{"http-rate", required_argument, NULL, 'K'},
	{"repair-interval", required_argument, NULL, 'K'},
	{"max-flows", required_argument, NULL, 'K'},
	{"unreplied-max", required_argument, NULL, 'K'},
	{"mark", required_argument, NULL, 'K'},
	{"local", required_argument, NULL, 'K'},
	{"cgroup", required_argument, NULL, 'K'},
	{"timeout", required_argument, NULL, 't'},
	{"policy", required_argument, NULL, 'y'},
	{"detach-on-exit", no_argument, NULL, 'x'},
	{"migrate", no_argument, NULL, 'M'},
	{"check-config", no_argument, NULL, 'C'},
	{"help", no_argument, NULL, 'h'},
	{},
};

/* The key a flag sets (and its value), or "" for flags that set a switch. */
static int flag_key(struct dconf *c, int opt, int idx, char *key, size_t len, const char **val)
{
	char *u;

	switch (opt) {
	case 'D':
		snprintf(key, len, "device");
		return 0;
	case 'y':
		snprintf(key, len, "policy");
		return 0;
	case 'K':
		snprintf(key, len, "%s", flag_opts[idx].name);
		for (u = key; (u = strchr(u, '-'));)
			*u = '_';
		return 0;
	case 't': {
		/* --timeout STATE=SECONDS */
		const char *eq = strchr(*val, '=');

		if (!eq || eq == *val || eq - *val > 40) {
			snprintf(c->err, sizeof(c->err), "--timeout '%s': expected STATE=SECONDS",
				 *val);
			return -EINVAL;
		}
		snprintf(key, len, "timeout_%.*s", (int)(eq - *val), *val);
		*val = eq + 1;
		return 0;
	}
	}
	c->detach_on_exit |= opt == 'x';
	c->migrate |= opt == 'M';
	c->check_only |= opt == 'C';
	c->help |= opt == 'h';
	key[0] = 0;
	return 0;
}

static int read_flags(struct dconf *c, int argc, char **argv)
{
	bool flag_devices = false, flag_policy = false;
	char key[64];
	const char *val;
	int opt, idx = 0;

	optind = 1;
	opterr = 0; /* one message, ours */
	while ((opt = getopt_long(argc, argv, "+:h", flag_opts, &idx)) != -1) {
		if (opt == '?' || opt == ':') {
			snprintf(c->err, sizeof(c->err), "daemon: %s '%s'%s",
				 opt == ':' ? "option" : "unknown option", argv[optind - 1],
				 opt == ':' ? " needs a value" : "; see 'ctaccel daemon help'");
			return -EINVAL;
		}
		if (opt == 'c')
			continue;
		if (opt == 'D' && !flag_devices) {
			dconf_free(c); /* flags replace the file's devices */
			flag_devices = true;
		}
		if (opt == 'y' && !flag_policy) {
			c->nrules = 0;
			flag_policy = true;
		}
		val = optarg;
		if (flag_key(c, opt, idx, key, sizeof(key), &val))
			return -EINVAL;
		if (!key[0])
			continue;
		c->err[0] = 0;
		if (!conf_line(c, "", key, val)) {
			char why[sizeof(c->err)];

			snprintf(why, sizeof(why), "%s", c->err);
			snprintf(c->err, sizeof(c->err), "option '%s': %.200s", optarg, why);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		snprintf(c->err, sizeof(c->err), "daemon: unexpected '%s'", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

int dconf_read(struct dconf *c, const char *pin_path, int argc, char **argv)
{
	const char *file = NULL;
	int i;

	if (dconf_defaults(c, pin_path))
		return -EINVAL;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			file = argv[i + 1];
		else if (!strncmp(argv[i], "--config=", 9))
			file = argv[i] + 9;
		else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			c->help = true;
	}
	if (c->help)
		return 0;
	if (file && read_file(c, file))
		return -EINVAL;
	return read_flags(c, argc, argv);
}
