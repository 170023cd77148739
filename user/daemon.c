// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * ctaccel daemon: adopts (or loads) the pinned state, attaches, applies the
 * configured policy, runs GC through compare-and-delete on an adaptive
 * interval, and serves metrics, health and the control API (user/http.c).
 * The datapath outlives it: exit leaves everything attached unless told
 * otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <ini.h>
#include <linux/capability.h>
#include "cli.h"
#include "daemon.h"
#include "flowtab.h"

#ifndef CAP_BPF
#define CAP_BPF 39
#endif
#define DAEMON_CAPS ((1ULL << CAP_NET_ADMIN) | (1ULL << CAP_BPF))

#define MAX_DEVICES 64
#define MAX_RULES   256

struct dconf {
	char *devices[MAX_DEVICES];
	int ndev;
	char listen[256];
	char control_listen[256]; /* empty: the control API is on `listen` */
	char pin_path[PATH_MAX];
	struct load_args load;
	unsigned int gc_interval;
	unsigned int http_rate;
	unsigned int repair_interval; /* 0: off */
	struct rule_set rules[MAX_RULES];
	size_t nrules;
	bool policy_given;
	bool detach_on_exit;
	bool migrate;
	char err[256];
};

struct daemon_state d;

static void dconf_free(struct dconf *c)
{
	int i;

	for (i = 0; i < c->ndev; i++)
		free(c->devices[i]);
	c->ndev = 0;
}

static int dconf_defaults(struct dconf *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->listen, sizeof(c->listen), "127.0.0.1:9474");
	snprintf(c->pin_path, sizeof(c->pin_path), "%s", CTACCEL_PIN_DEFAULT);
	c->gc_interval = 10;
	c->http_rate = 50;
	c->repair_interval = 5;
	return load_args_default(&c->load);
}

static int add_devices(struct dconf *c, const char *list)
{
	char *dup = strdup(list), *tok, *save = NULL;

	if (!dup)
		return -ENOMEM;
	for (tok = strtok_r(dup, " ,\t", &save); tok; tok = strtok_r(NULL, " ,\t", &save)) {
		if (c->ndev == MAX_DEVICES || strlen(tok) >= IF_NAMESIZE) {
			snprintf(c->err, sizeof(c->err), "device '%s': too many or name too long",
				 tok);
			free(dup);
			return -EINVAL;
		}
		c->devices[c->ndev++] = strdup(tok);
	}
	free(dup);
	return 0;
}

static int add_policy(struct dconf *c, const char *rule)
{
	char *dup = strdup(rule), *argv[8], *save = NULL, *tok;
	int argc = 0, err;

	if (!dup)
		return -ENOMEM;
	for (tok = strtok_r(dup, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (argc == 8) {
			snprintf(c->err, sizeof(c->err), "policy '%s': too many words", rule);
			free(dup);
			return -EINVAL;
		}
		argv[argc++] = tok;
	}
	if (c->nrules == MAX_RULES) {
		snprintf(c->err, sizeof(c->err), "more than %d policy rules", MAX_RULES);
		free(dup);
		return -E2BIG;
	}
	err = policy_rule_parse(argc, argv, &c->rules[c->nrules]);
	if (!err)
		c->nrules++;
	else
		snprintf(c->err, sizeof(c->err), "policy '%s' is not all|PREFIX [port PORT]", rule);
	c->policy_given = true;
	free(dup);
	return err;
}

static int set_number(struct dconf *c, const char *key, const char *value, unsigned int *dst,
		      uint32_t min, uint32_t max, const char *range)
{
	uint32_t n;

	if (parse_u32(value, &n) || n < min || n > max) {
		snprintf(c->err, sizeof(c->err), "%s '%s': %s", key, value, range);
		return -EINVAL;
	}
	*dst = n;
	return 0;
}

/* One setting, from the file or a flag: the same words as `ctaccel load`. */
static int dconf_set(struct dconf *c, const char *key, const char *value)
{
	char v[256], *argv[3];

	snprintf(v, sizeof(v), "%s", value);
	if (!strcmp(key, "device") || !strcmp(key, "devices"))
		return add_devices(c, value);
	if (!strcmp(key, "listen") || !strcmp(key, "control_listen")) {
		char *dst = !strcmp(key, "listen") ? c->listen : c->control_listen;
		struct sockaddr_storage ss;
		socklen_t len;

		if (strlen(value) >= sizeof(c->listen) || http_listen_parse(value, &ss, &len)) {
			snprintf(c->err, sizeof(c->err),
				 "%s '%s': expected ADDR:PORT, [ADDR6]:PORT or unix:PATH", key,
				 value);
			return -EINVAL;
		}
		snprintf(dst, sizeof(c->listen), "%s", value);
		return 0;
	}
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
	if (!strcmp(key, "detach_on_exit")) {
		c->detach_on_exit =
			!strcmp(value, "yes") || !strcmp(value, "true") || !strcmp(value, "1");
		return 0;
	}
	if (!strcmp(key, "max_flows") || !strcmp(key, "mark")) {
		argv[0] = (char *)(!strcmp(key, "mark") ? "mark" : "max-flows");
		argv[1] = v;
		return load_args_parse(2, argv, &c->load) ? -EINVAL : 0;
	}
	if (!strncmp(key, "timeout_", 8)) {
		argv[0] = (char *)"timeout";
		argv[1] = (char *)key + 8;
		argv[2] = v;
		return load_args_parse(3, argv, &c->load) ? -EINVAL : 0;
	}
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

/* A configuration's text, checked as the daemon reads a file: 0, or the
 * number of the first bad line with the reason in err. */
int daemon_conf_check(const char *text, char *err, size_t errlen)
{
	struct dconf *c = malloc(sizeof(*c));
	int line;

	if (!c)
		return -ENOMEM;
	if (dconf_defaults(c)) {
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

static const char *conf_file;
static bool check_only;
static char **flag_argv;
static int flag_argc;

/* The file first, then the flags over it. */
static int dconf_read(struct dconf *c)
{
	static const struct option opts[] = {
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
		{"mark", required_argument, NULL, 'K'},
		{"timeout", required_argument, NULL, 't'},
		{"policy", required_argument, NULL, 'y'},
		{"detach-on-exit", no_argument, NULL, 'x'},
		{"migrate", no_argument, NULL, 'M'},
		{"check-config", no_argument, NULL, 'C'},
		{},
	};
	bool flag_devices = false, flag_policy = false;
	int opt, line, idx = 0;

	if (dconf_defaults(c))
		return -EINVAL;
	if (conf_file) {
		line = ini_parse(conf_file, conf_line, c);
		conf_syntax_reason(c, line);
		if (line < 0) {
			pr_err("config %s: cannot open", conf_file);
			return -ENOENT;
		}
		if (line > 0) {
			pr_err("config %s:%d: %s", conf_file, line, c->err);
			return -EINVAL;
		}
	}
	optind = 1;
	while ((opt = getopt_long(flag_argc, flag_argv, "+", opts, &idx)) != -1) {
		char key[64] = "";
		const char *val = optarg;

		switch (opt) {
		case 'c':
			continue;
		case 'D':
			if (!flag_devices) {
				dconf_free(c);
				flag_devices = true;
			}
			snprintf(key, sizeof(key), "device");
			break;
		case 'K': {
			char *u;

			snprintf(key, sizeof(key), "%s", opts[idx].name);
			for (u = key; (u = strchr(u, '-'));)
				*u = '_';
			break;
		}
		case 't': {
			/* --timeout STATE=SECONDS */
			const char *eq = strchr(optarg, '=');

			if (!eq || eq == optarg || eq - optarg > 40) {
				pr_err("--timeout '%s': expected STATE=SECONDS", optarg);
				return -EINVAL;
			}
			snprintf(key, sizeof(key), "timeout_%.*s", (int)(eq - optarg), optarg);
			val = eq + 1;
			break;
		}
		case 'y':
			if (!flag_policy) {
				c->nrules = 0;
				flag_policy = true;
			}
			snprintf(key, sizeof(key), "policy");
			break;
		case 'x':
			c->detach_on_exit = true;
			continue;
		case 'M':
			c->migrate = true;
			continue;
		case 'C':
			check_only = true;
			continue;
		default:
			pr_err("daemon: unknown option; see 'ctaccel daemon help'");
			return -EINVAL;
		}
		c->err[0] = 0;
		if (!conf_line(c, "", key, val)) {
			pr_err("option '%s': %s", optarg, c->err);
			return -EINVAL;
		}
	}
	if (optind < flag_argc) {
		pr_err("daemon: unexpected '%s'", flag_argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* ---- state ---- */

/* Readiness for systemd's Type=notify, without libsystemd. */
static void sd_notify_ready(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t len;
	int fd;

	if (!path || !*path || strlen(path) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, strlen(path));
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = 0; /* abstract socket */
	len = offsetof(struct sockaddr_un, sun_path) + strlen(path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa, len);
	close(fd);
}

static void log_event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_event(const char *fmt, ...)
{
	va_list ap;

	/* journald reads syslog priorities from a <N> prefix. */
	if (getenv("JOURNAL_STREAM"))
		fputs("<6>", stderr);
	fputs("ctaccel: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int attach_devices(const struct dconf *c)
{
	int i, err;

	for (i = 0; i < c->ndev; i++) {
		__u32 ifindex = if_nametoindex(c->devices[i]);

		if (!ifindex) {
			pr_err("attach %s: %s", c->devices[i], strerror(ENODEV));
			return -ENODEV;
		}
		err = attach_ifindex(&d.pins, ifindex);
		if (err) {
			pr_err("attach %s: %s", c->devices[i], strerror(-err));
			return err;
		}
	}
	return 0;
}

int daemon_gc(struct ctaccel_gc_result *res)
{
	struct timespec a, b;
	int err;

	pthread_mutex_lock(&d.lock);
	clock_gettime(CLOCK_MONOTONIC, &a);
	err = ctaccel_gc_pass(d.pins.flows_fd, d.pins.delete_fd, d.pins.clock_fd, res);
	clock_gettime(CLOCK_MONOTONIC, &b);
	/* GC needs no CLI lock: compare-and-delete is safe against any writer. */
	if (!err) {
		d.gc_runs++;
		d.gc_deleted += res->deleted;
		d.gc_last_seconds = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
		d.gc_seconds_total += d.gc_last_seconds;
	} else {
		d.gc_errors++;
	}
	/* A pass reads the whole table into one buffer; give the pages back
	 * rather than hold a full table's worth on a small node. */
	malloc_trim(0);
	pthread_mutex_unlock(&d.lock);
	return err;
}

/*
 * Put right what changed behind the daemon's back, each repair logged and
 * counted: a policy update a dead writer left half done, the nft table, a
 * configured device that lost its programs, records of devices that are gone.
 */
static void daemon_repair(const struct dconf *c)
{
	unsigned int pruned = 0;
	json_t *rules;
	int i, lock, rc;

	pthread_mutex_lock(&d.lock);
	lock = cli_lock();
	if (lock < 0)
		goto out;
	if (policy_sync(&d.pins) > 0) {
		d.repairs[REPAIR_POLICY]++;
		log_event("policy: finished an update that was interrupted");
	}
	rules = policy_json(&d.pins);
	if (rules && json_array_size(rules) && !nft_table_present()) {
		rc = nft_table_install(d.pins.cfg.mark, d.pins.cfg.mark_mask);
		if (!rc) {
			d.repairs[REPAIR_NFT]++;
			log_event("nft table inet ctaccel was missing: restored");
		} else {
			d.repair_errors++;
			log_event("nft table inet ctaccel is missing: %s", strerror(-rc));
		}
	}
	json_decref(rules);
	for (i = 0; i < c->ndev; i++) {
		__u32 ifx = if_nametoindex(c->devices[i]);

		if (!ifx || iface_hooks(&d.pins, ifx) == (IFACE_HOOK_INGRESS | IFACE_HOOK_EGRESS))
			continue;
		rc = attach_ifindex(&d.pins, ifx);
		if (!rc) {
			d.repairs[REPAIR_DEVICE]++;
			log_event("device %s: programs re-attached", c->devices[i]);
		} else {
			d.repair_errors++;
			log_event("device %s: re-attach: %s", c->devices[i], strerror(-rc));
		}
	}
	if (ifaces_prune(&d.pins, &pruned) == 0 && pruned) {
		d.repairs[REPAIR_IFACE] += pruned;
		log_event("forgot %u device record(s) whose device is gone", pruned);
	}
	cli_unlock(lock);
out:
	pthread_mutex_unlock(&d.lock);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* Shorter when much expired or the table is filling, longer when idle. */
static unsigned int gc_next_interval(unsigned int cur, unsigned int base,
				     const struct ctaccel_gc_result *r)
{
	double fill = d.pins.max_flows ? (double)r->scanned / d.pins.max_flows : 0;

	if (fill > 0.8 || (r->scanned && r->expired * 10 > r->scanned))
		return cur > 1 ? cur / 2 : 1;
	if (!r->expired)
		return cur * 2 <= base * 8 ? cur * 2 : base * 8;
	return base;
}

static void usage(void)
{
	printf("Usage: ctaccel daemon [--config FILE] [--device DEV]... [--listen "
	       "ADDR:PORT|unix:PATH]\n"
	       "                      [--control-listen ADDR:PORT|unix:PATH]\n"
	       "                      [--pin-path DIR] [--gc-interval SECONDS] [--http-rate N]\n"
	       "                      [--repair-interval SECONDS] [--max-flows N]\n"
	       "                      [--mark VALUE/MASK] [--timeout STATE=SECONDS]...\n"
	       "                      [--policy 'all|PREFIX [port PORT]']... [--detach-on-exit]\n"
	       "                      [--migrate] [--check-config]\n"
	       "Flags override the file's keys (see docs/ctaccel.conf.example). SIGHUP re-reads\n"
	       "the configuration; SIGTERM/SIGINT exit and leave the datapath attached.\n");
}

int do_daemon(int argc, char **argv)
{
	struct dconf c, next;
	struct ctaccel_gc_result gc = {};
	double next_gc, next_repair;
	unsigned int interval;
	sigset_t set;
	int i, err, lockfd = -1, pinlock, ret = EXIT_RUNTIME;
	char **args;

	if (argc && is_prefix(argv[0], "help")) {
		usage();
		return 0;
	}
	/* getopt wants argv[0]: build "daemon ARGS...". */
	args = calloc(argc + 2, sizeof(*args));
	if (!args)
		return EXIT_RUNTIME;
	args[0] = (char *)"daemon";
	for (i = 0; i < argc; i++) {
		args[i + 1] = argv[i];
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			conf_file = argv[i + 1];
		else if (!strncmp(argv[i], "--config=", 9))
			conf_file = argv[i] + 9;
	}
	flag_argv = args;
	flag_argc = argc + 1;
	if (dconf_read(&c))
		return EXIT_USAGE;
	if (check_only) {
		pr_info("configuration ok\n");
		dconf_free(&c);
		return 0;
	}
	cli.pin_path = c.pin_path;
	memset(&d, 0, sizeof(d));
	pthread_mutex_init(&d.lock, NULL);
	for (i = 0; i < c.ndev; i++)
		if (!if_nametoindex(c.devices[i])) {
			pr_err("device %s: %s", c.devices[i], strerror(ENODEV));
			goto out;
		}
	if (bpffs_ensure())
		goto out;

	/* Adopt what is pinned (same layout) or load; under the CLI lock. */
	pinlock = cli_lock();
	if (pinlock < 0)
		goto out;
	if (!pinned_exists() && load_and_pin(&c.load)) {
		cli_unlock(pinlock);
		goto out;
	}
	err = pinned_open(&d.pins);
	if (err == -EPROTO && c.migrate) {
		/* Another layout: start over, as the operator asked. */
		log_event("migrating: discarding pinned state of another layout in %s",
			  cli.pin_path);
		err = discard_pinned_state();
		err = err ?: load_and_pin(&c.load);
		err = err ?: pinned_open(&d.pins);
	} else if (err == -EPROTO) {
		pr_err("refusing to adopt it; --migrate discards it (its flows are lost)");
	}
	if (err) {
		cli_unlock(pinlock);
		goto out;
	}
	/* One daemon per pinned state: the second one refuses. */
	lockfd = open(cli.pin_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB)) {
		pr_err("another ctaccel daemon runs on %s", cli.pin_path);
		cli_unlock(pinlock);
		goto close_pins;
	}
	/* A newer binary swaps its programs in; the maps, and so every flow and
	 * counter, stay. */
	{
		bool replaced = false;

		err = programs_replace(&d.pins, false, &replaced);
		if (!err && replaced) {
			pinned_close(&d.pins);
			err = pinned_open(&d.pins);
			log_event("programs upgraded in place");
		}
	}
	err = err ?: attach_devices(&c);
	if (!err && c.policy_given)
		err = policy_replace(&d.pins, c.rules, c.nrules);
	cli_unlock(pinlock);
	if (err)
		goto close_pins;
	d.devices = c.devices;
	d.ndev = c.ndev;
	/* Whatever a crash (of a daemon or a CLI) left half done. */
	daemon_repair(&c);
	/* One loaded socket iterator for every scrape; without it each scrape
	 * loads its own, which needs capabilities the daemon drops below. */
	if (host_sockets_keep())
		log_event("host socket metrics unavailable");
	if (http_start(c.listen, c.control_listen, c.http_rate))
		goto close_pins;
	/* From here on: tc filters and the nft table (NET_ADMIN) and new policy
	 * tries (BPF). Loading and pinning are over; the rest goes. */
	err = caps_keep_only(DAEMON_CAPS);
	if (err) {
		pr_err("drop capabilities: %s", strerror(-err));
		http_stop();
		goto close_pins;
	}

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	log_event("running: pinned in %s, %d device(s), listening on %s", cli.pin_path, c.ndev,
		  c.listen);
	sd_notify_ready("READY=1\nSTATUS=tracking\n");

	interval = c.gc_interval;
	next_gc = now_s() + interval;
	next_repair = now_s() + c.repair_interval;
	for (;;) {
		double wait = next_gc - now_s();
		struct timespec to;
		siginfo_t si;
		int sig;

		if (c.repair_interval && next_repair - now_s() < wait)
			wait = next_repair - now_s();
		if (wait < 0)
			wait = 0;
		to.tv_sec = (time_t)wait;
		to.tv_nsec = (long)((wait - to.tv_sec) * 1e9);
		sig = sigtimedwait(&set, &si, &to);
		if (sig < 0) {
			if (errno != EAGAIN && errno != EINTR)
				break;
			if (c.repair_interval && now_s() >= next_repair) {
				daemon_repair(&c);
				next_repair = now_s() + c.repair_interval;
			}
			if (now_s() >= next_gc) {
				if (daemon_gc(&gc) == 0)
					interval = gc_next_interval(interval, c.gc_interval, &gc);
				next_gc = now_s() + interval;
			}
			continue;
		}
		if (sig == SIGHUP) {
			sd_notify_ready("RELOADING=1\n");
			if (dconf_read(&next) == 0) {
				pthread_mutex_lock(&d.lock);
				pinlock = cli_lock();
				err = attach_devices(&next);
				if (!err && next.policy_given)
					err = policy_replace(&d.pins, next.rules, next.nrules);
				/* Devices no longer configured come off. */
				for (i = 0; !err && i < c.ndev; i++) {
					int j, keep = 0;

					for (j = 0; j < next.ndev; j++)
						keep |= !strcmp(c.devices[i], next.devices[j]);
					if (!keep && if_nametoindex(c.devices[i]))
						detach_ifindex(&d.pins,
							       if_nametoindex(c.devices[i]));
				}
				cli_unlock(pinlock);
				if (!err) {
					dconf_free(&c);
					c = next;
					d.devices = c.devices;
					d.ndev = c.ndev;
					interval = c.gc_interval;
					next_gc = now_s() + interval;
				} else {
					dconf_free(&next);
				}
				pthread_mutex_unlock(&d.lock);
				log_event("reloaded configuration%s", err ? " (failed, kept)" : "");
			}
			sd_notify_ready("READY=1\n");
			continue;
		}
		log_event("signal %d: exiting, datapath %s", sig,
			  c.detach_on_exit ? "detached" : "left attached");
		break;
	}
	sd_notify_ready("STOPPING=1\n");
	http_stop();
	if (c.detach_on_exit) {
		pinlock = cli_lock();
		for (i = 0; i < c.ndev; i++)
			if (if_nametoindex(c.devices[i]))
				detach_ifindex(&d.pins, if_nametoindex(c.devices[i]));
		cli_unlock(pinlock);
	}
	ret = 0;
close_pins:
	pinned_close(&d.pins);
out:
	if (lockfd >= 0)
		close(lockfd);
	dconf_free(&c);
	free(args);
	return ret;
}
