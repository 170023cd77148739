// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * The daemon's configuration: an INI file (libinih) and flags over it. Its
 * own settings are rows of the library's settings schema (daemon_settings),
 * beside the load settings (ctaccel_load_settings): a key has one spelling,
 * `--KEY VALUE` as a flag and `KEY = VALUE` in the file, and one parser.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <ini.h>
#include "daemon.h"
#include "http.h"

/* devices: names, space or comma separated; each line or flag adds. */
static int parse_devices(const struct ctaccel_setting *s, void *base, const char *list, char *err,
			 size_t errlen)
{
	struct dconf *c = base;
	char *dup = strdup(list), *tok, *save = NULL;

	(void)s;
	if (!dup)
		return -ENOMEM;
	for (tok = strtok_r(dup, " ,\t", &save); tok; tok = strtok_r(NULL, " ,\t", &save)) {
		if (c->ndev == DCONF_MAX_DEVICES || strlen(tok) >= IF_NAMESIZE) {
			snprintf(err, errlen, "devices '%.32s': too many or name too long", tok);
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

static int format_devices(const struct ctaccel_setting *s, const void *base, size_t nth, char *buf,
			  size_t len)
{
	const struct dconf *c = base;

	(void)s;
	if (nth >= (size_t)c->ndev)
		return -ENOENT;
	snprintf(buf, len, "%s", c->devices[nth]);
	return 0;
}

/* policy: CTACCEL_RULE_SYNTAX; each line or flag adds a rule. */
static int parse_policy(const struct ctaccel_setting *s, void *base, const char *text, char *err,
			size_t errlen)
{
	char buf[512], *words[6], *save = NULL, *tok, why[160] = "";
	struct dconf *c = base;
	struct ctaccel_rule *r = &c->rules[c->nrules];
	int n = 0;

	(void)s;
	c->policy_given = true;
	if (c->nrules == DCONF_MAX_RULES) {
		snprintf(err, errlen, "more than %d policy rules", DCONF_MAX_RULES);
		return -E2BIG;
	}
	if (strlen(text) >= sizeof(buf)) {
		snprintf(err, errlen, "policy '%.32s...' is longer than %zu characters", text,
			 sizeof(buf) - 1);
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
	/* the rule parser's reason names the word; else the whole syntax */
	if (why[0])
		snprintf(err, errlen, "%s", why);
	else
		snprintf(err, errlen, "policy '%.64s' is not %s", text, CTACCEL_RULE_SYNTAX);
	return -EINVAL;
}

static int format_policy(const struct ctaccel_setting *s, const void *base, size_t nth, char *buf,
			 size_t len)
{
	const struct dconf *c = base;

	(void)s;
	if (nth >= c->nrules)
		return -ENOENT;
	ctaccel_rule_format(&c->rules[nth], buf, len);
	return 0;
}

/* listen, control-listen: ADDR:PORT, [ADDR6]:PORT or unix:PATH. */
static int parse_listen(const struct ctaccel_setting *s, void *base, const char *value, char *err,
			size_t errlen)
{
	char *dst = (char *)base + s->off, why[160];
	struct sockaddr_storage ss;
	socklen_t len;

	if (strlen(value) >= s->size || http_listen_parse(value, &ss, &len)) {
		snprintf(err, errlen, "%s '%.64s': expected ADDR:PORT, [ADDR6]:PORT or unix:PATH",
			 s->key, value);
		return -EINVAL;
	}
	/* The daemon makes a missing socket directory, where it can: what it
	 * cannot do at start (a read-only /run under ProtectSystem=strict
	 * without RuntimeDirectory=) is refused here already. */
	if (ss.ss_family == AF_UNIX && http_unix_dir_check(value + 5, why, sizeof(why))) {
		snprintf(err, errlen, "%s '%.64s': %s", s->key, value, why);
		return -EINVAL;
	}
	snprintf(dst, s->size, "%s", value);
	return 0;
}

static int format_text(const struct ctaccel_setting *s, const void *base, size_t nth, char *buf,
		       size_t len)
{
	if (nth)
		return -ENOENT;
	snprintf(buf, len, "%s", (const char *)base + s->off);
	return 0;
}

#define DOFF(field)  offsetof(struct dconf, field)
#define DSIZE(field) sizeof(((struct dconf *)0)->field)

/* clang-format off */
const struct ctaccel_setting daemon_settings[DSET__MAX + 1] = {
	[DSET_DEVICES] = {
		.key = "devices",
		.syntax = "DEV[,DEV]...",
		.type = CTACCEL_SETTING_TEXT,
		.live = true,
		.repeat = true,
		.old = "device",
		.help = "devices to attach to; flags replace the file's",
		.parse = parse_devices,
		.format = format_devices,
	},
	[DSET_LISTEN] = {
		.key = "listen",
		.syntax = "ADDR:PORT|unix:PATH",
		.type = CTACCEL_SETTING_TEXT,
		.live = true,
		.off = DOFF(listen),
		.size = DSIZE(listen),
		.help = "HTTP for /metrics, /healthz, /readyz and the /v1 API",
		.parse = parse_listen,
		.format = format_text,
	},
	[DSET_CONTROL_LISTEN] = {
		.key = "control-listen",
		.syntax = "ADDR:PORT|unix:PATH",
		.type = CTACCEL_SETTING_TEXT,
		.live = true,
		.off = DOFF(control_listen),
		.size = DSIZE(control_listen),
		.help = "the endpoints that change state only here (none: on listen)",
		.parse = parse_listen,
		.format = format_text,
	},
	[DSET_PIN_PATH] = {
		.key = "pin-path",
		.type = CTACCEL_SETTING_PATH,
		.off = DOFF(pin_path),
		.size = DSIZE(pin_path),
		.help = "where the maps and programs are pinned",
	},
	[DSET_HTTP_RATE] = {
		.key = "http-rate",
		.type = CTACCEL_SETTING_COUNT,
		.live = true,
		.min = 0,
		.max = 100000,
		.unit = "req/s",
		.off = DOFF(http_rate),
		.help = "requests per second on each listener, then 429 (0: no limit; probes "
			"exempt)",
	},
	[DSET_REPAIR_INTERVAL] = {
		.key = "repair-interval",
		.type = CTACCEL_SETTING_SECONDS,
		.min = 0,
		.max = 3600,
		.scale = 1,
		.live = true,
		.off = DOFF(repair_interval),
		.help = "how often what changed behind the daemon's back is put right (0: "
			"never)",
	},
	[DSET_POLICY] = {
		.key = "policy",
		.syntax = "RULE",
		.type = CTACCEL_SETTING_TEXT,
		.live = true,
		.repeat = true,
		.help = "a bypass rule, " CTACCEL_RULE_SYNTAX
			"; given, the rules replace the "
			"pinned policy; flags replace the file's",
		.parse = parse_policy,
		.format = format_policy,
	},
	[DSET_DETACH_ON_EXIT] = {
		.key = "detach-on-exit",
		.type = CTACCEL_SETTING_BOOL,
		.live = true,
		.off = DOFF(detach_on_exit),
		.help = "take the programs off the devices on exit (default: leave them)",
	},
	[DSET_UNIX_GROUP_ACCESS] = {
		.key = "unix-group-access",
		.type = CTACCEL_SETTING_BOOL,
		.off = DOFF(unix_group_access),
		.help = "unix sockets are 0660, for their directory's group (default: 0600, "
			"this user's only)",
	},
	[DSET__MAX] = {},
};
/* clang-format on */

void dconf_defaults(struct dconf *c, const char *pin_path)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof(c->listen), "127.0.0.1:9474");
	snprintf(c->pin_path, sizeof(c->pin_path), "%s", pin_path ? pin_path : CTACCEL_PIN_DEFAULT);
	c->http_rate = 50;
	c->repair_interval = 5;
	ctaccel_load_opts_default(&c->load);
}

void dconf_free(struct dconf *c)
{
	int i;

	for (i = 0; i < c->ndev; i++)
		free(c->devices[i]);
	c->ndev = 0;
}

int dconf_find(const char *key, struct ctaccel_setting_ref *ref)
{
	if (!ctaccel_setting_find(daemon_settings, key, false, ref))
		return 0;
	return ctaccel_setting_find(ctaccel_load_settings, key, false, ref);
}

/* Where a row's values are kept: the daemon's own, or the load settings. */
void *dconf_base(struct dconf *c, const struct ctaccel_setting_ref *ref)
{
	bool own = ref->s >= daemon_settings && ref->s < daemon_settings + DSET__MAX;

	return own ? (void *)c : (void *)&c->load;
}

/* An older spelling: noted, for the log (the value counts all the same). */
static void note_old(struct dconf *c, const char *where, const char *given,
		     const struct ctaccel_setting_ref *ref)
{
	if (c->nnotes == DCONF_MAX_NOTES)
		return;
	snprintf(c->notes[c->nnotes++], sizeof(c->notes[0]),
		 "%s: '%s' is an older spelling of '%s'", where, given, ref->key);
}

int dconf_set(struct dconf *c, const char *key, const char *value)
{
	struct ctaccel_setting_ref ref;

	if (dconf_find(key, &ref)) {
		snprintf(c->err, sizeof(c->err), "unknown key '%.64s'", key);
		return -ENOENT;
	}
	if (ref.old)
		note_old(c, "config", key, &ref);
	return ctaccel_setting_set(&ref, dconf_base(c, &ref), value, c->err, sizeof(c->err));
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
	dconf_defaults(c, NULL);
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

/* Flags of the daemon that are actions, not settings. */
static bool action_flag(struct dconf *c, const char *arg)
{
	bool *flag = !strcmp(arg, "--migrate")			    ? &c->migrate
		     : !strcmp(arg, "--check-config")		    ? &c->check_only
		     : !strcmp(arg, "--help") || !strcmp(arg, "-h") ? &c->help
								    : NULL;

	if (flag)
		*flag = true;
	return flag;
}

/*
 * A flag's value: after '=', or the next word; a boolean's may be left out
 * (on). Returns the words the flag took, or 0 (c->err set).
 */
static int flag_value(struct dconf *c, const struct ctaccel_setting_ref *ref, const char *eq,
		      int argc, char **argv, const char **value)
{
	bool b;

	if (eq) {
		*value = eq + 1;
		return 1;
	}
	if (ref->s->type == CTACCEL_SETTING_BOOL && (argc < 2 || ctaccel_parse_bool(argv[1], &b))) {
		*value = "on";
		return 1;
	}
	if (argc < 2) {
		snprintf(c->err, sizeof(c->err), "daemon: option '%s' needs a value", argv[0]);
		return 0;
	}
	*value = argv[1];
	return 2;
}

/* One flag: the words it took, or 0 (c->err set). `from_flags` says which
 * repeated settings flags have given yet: their first replaces the file's. */
static int read_flag(struct dconf *c, int argc, char **argv, bool *from_flags)
{
	struct ctaccel_setting_ref ref;
	const char *eq, *value;
	char name[64], why[sizeof(c->err)];
	int used;

	eq = strchr(argv[0], '=');
	snprintf(name, sizeof(name), "%.*s", (int)(eq ? eq - argv[0] - 2 : 60), argv[0] + 2);
	if (strncmp(argv[0], "--", 2) || !name[0] || dconf_find(name, &ref)) {
		snprintf(c->err, sizeof(c->err),
			 "daemon: unknown option '%.64s'; see 'ctaccel "
			 "daemon help'",
			 argv[0]);
		return 0;
	}
	used = flag_value(c, &ref, eq, argc, argv, &value);
	if (!used)
		return 0;
	if (ref.old)
		note_old(c, "flag", argv[0], &ref);
	if (ref.s->repeat && dconf_base(c, &ref) == c && !from_flags[ref.s - daemon_settings]) {
		from_flags[ref.s - daemon_settings] = true;
		if (ref.s == &daemon_settings[DSET_DEVICES])
			dconf_free(c);
		else
			c->nrules = 0;
	}
	c->err[0] = 0;
	if (ctaccel_setting_set(&ref, dconf_base(c, &ref), value, c->err, sizeof(c->err))) {
		snprintf(why, sizeof(why), "%s", c->err);
		snprintf(c->err, sizeof(c->err), "option '%.64s': %.180s", argv[0], why);
		return 0;
	}
	return used;
}

static int read_flags(struct dconf *c, int argc, char **argv)
{
	bool from_flags[DSET__MAX] = {};
	int i, used;

	for (i = 1; i < argc; i += used) {
		used = 1;
		if (!strcmp(argv[i], "--config")) {
			used = 2; /* read before the flags */
			continue;
		}
		if (!strncmp(argv[i], "--config=", 9) || action_flag(c, argv[i]))
			continue;
		if (strncmp(argv[i], "--", 2)) {
			snprintf(c->err, sizeof(c->err), "daemon: unexpected '%.64s'", argv[i]);
			return -EINVAL;
		}
		used = read_flag(c, argc - i, argv + i, from_flags);
		if (!used)
			return -EINVAL;
	}
	return 0;
}

int dconf_read(struct dconf *c, const char *pin_path, int argc, char **argv)
{
	const char *file = NULL;
	int i;

	dconf_defaults(c, pin_path);
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
	if (!strcmp(argc > 1 ? argv[argc - 1] : "", "--config")) {
		snprintf(c->err, sizeof(c->err), "daemon: option '--config' needs a value");
		return -EINVAL;
	}
	if (file && read_file(c, file))
		return -EINVAL;
	return read_flags(c, argc, argv);
}
