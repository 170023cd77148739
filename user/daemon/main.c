// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * ctaccel daemon: start-up (adopt or load, attach, policy), the loop (GC on an
 * adaptive interval, repairs, SIGHUP reloads) and shutdown. The datapath
 * outlives it: exit leaves everything attached unless told otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <net/if.h>
#include <linux/capability.h>
#include "api.h"
#include "daemon.h"
#include "http.h"

#ifndef CAP_BPF
#define CAP_BPF 39
#endif
/* After start-up: tc filters and the nft table (NET_ADMIN), new policy
 * tries (BPF). Loading and pinning are over. */
#define DAEMON_CAPS ((1ULL << CAP_NET_ADMIN) | (1ULL << CAP_BPF))

static void lib_print(enum ctaccel_print_level level, const char *msg, void *ctx)
{
	(void)ctx;
	/* the library reports a failing operation at WARN: an error here */
	if (level == CTACCEL_PRINT_WARN)
		daemon_err("%s", msg);
	else if (level == CTACCEL_PRINT_INFO)
		daemon_log("%s", msg);
}

/* Readiness for systemd's Type=notify, without libsystemd. */
static void sd_notify(const char *msg)
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

/*
 * One daemon per pinned state: an flock held for life on a directory of its
 * own below the root (the root itself is the writers' lock). Taken first,
 * before the writers' lock, so that a second daemon refuses at once instead
 * of waiting behind the first one's load; taken again (kept if its directory
 * is still the one held) once the state is loaded, since a migration
 * discards the directory with the rest.
 */
static int instance_lock(struct daemon *d)
{
	struct stat held, now;
	char path[PATH_MAX];
	int fd;

	if (ctaccel_pin_file(d->h, CTACCEL_PIN_DAEMON, path, sizeof(path)))
		return -ENAMETOOLONG;
	if (d->instance_fd >= 0) {
		if (!fstat(d->instance_fd, &held) && !stat(path, &now) &&
		    held.st_ino == now.st_ino && held.st_dev == now.st_dev)
			return 0;
		close(d->instance_fd);
		d->instance_fd = -1;
	}
	if ((mkdir(ctaccel_pin_root(d->h), 0700) && errno != EEXIST) ||
	    (mkdir(path, 0700) && errno != EEXIST))
		return -errno;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB)) {
		if (fd >= 0)
			close(fd);
		daemon_err("another ctaccel daemon runs on %s", ctaccel_pin_root(d->h));
		return -EBUSY;
	}
	d->instance_fd = fd;
	return 0;
}

/* Adopt what is pinned (same layout) or load; under the state's lock. */
static int adopt_or_load(struct daemon *d, bool *adopted)
{
	int err;

	*adopted = ctaccel_is_loaded(d->h);
	if (!*adopted && ctaccel_load(d->h, &d->conf.load))
		return -EIO;
	/* state of an older ABI too: start() migrates it (ctaccel_replace) */
	err = ctaccel_open_upgrade(d->h);
	if (err == -EPROTO && d->conf.migrate) {
		daemon_warn("migrating: discarding pinned state of another layout in %s",
			    ctaccel_pin_root(d->h));
		err = ctaccel_discard(d->h);
		err = err ?: ctaccel_nft_remove(d->h);
		err = err ?: ctaccel_load(d->h, &d->conf.load);
		err = err ?: ctaccel_open(d->h);
		*adopted = false;
	} else if (err == -EPROTO) {
		daemon_err("refusing to adopt it; --migrate discards it (its flows are lost)");
	}
	return err;
}

static int start(struct daemon *d)
{
	bool replaced = false, adopted;
	unsigned int ifindex;
	int i, err;

	for (i = 0; i < d->conf.ndev; i++)
		if (ctaccel_ifindex(d->h, "device", d->conf.devices[i], &ifindex))
			return -ENODEV;
	if (ctaccel_bpffs_ensure(d->h) || instance_lock(d) || ctaccel_lock(d->h))
		return -EIO;
	err = adopt_or_load(d, &adopted);
	err = err ?: instance_lock(d);
	/* A newer binary swaps its programs into state it adopts; the maps,
	 * and so every flow and counter, stay. */
	if (!err && adopted)
		err = ctaccel_replace(d->h, false, &replaced);
	if (!err && replaced)
		daemon_log("programs upgraded in place");
	err = err ?: daemon_attach_devices(d, &d->conf);
	if (!err && d->conf.policy_given)
		err = ctaccel_policy_replace(d->h, d->conf.rules, d->conf.nrules);
	ctaccel_unlock(d->h);
	return err;
}

/* The configured devices that `next` no longer lists come off. */
static void detach_dropped(struct daemon *d, const struct dconf *next)
{
	unsigned int ifx;
	int i, j, keep;

	for (i = 0; i < d->conf.ndev; i++) {
		for (keep = 0, j = 0; j < next->ndev; j++)
			keep |= !strcmp(d->conf.devices[i], next->devices[j]);
		ifx = if_nametoindex(d->conf.devices[i]);
		if (!keep && ifx)
			ctaccel_detach(d->h, ifx);
	}
}

struct apply_walk {
	const char *what; /* "config", "reload" */
	char (*unapplied)[CTACCEL_PROBLEM_LEN];
	size_t n;
	char *kept; /* the reload's list of keys not applied, or NULL */
	size_t len;
};

static void kept_add(char *kept, size_t len, const char *key);

static void applied_one(const struct ctaccel_setting_change *c, void *ctx)
{
	struct apply_walk *w = ctx;

	if (!c->kept) {
		daemon_log("%s: %s %s -> %s, applied live (flows kept)", w->what, c->ref->key,
			   c->was, c->asked);
		return;
	}
	daemon_err("%s: %s %s -> %s not applied: %s", w->what, c->ref->key, c->was, c->asked,
		   c->kept);
	if (w->n < DAEMON_MAX_UNAPPLIED)
		snprintf(w->unapplied[w->n++], CTACCEL_PROBLEM_LEN,
			 "the configuration's %s %s is not in force: the state keeps %s (%s)",
			 c->ref->key, c->asked, c->was, c->kept);
	if (w->kept)
		kept_add(w->kept, w->len, c->ref->key);
}

/*
 * The load settings asked for, brought to the state where they can change
 * live; the others logged and kept as status problems until the
 * configuration or the state changes. The timeouts, the expiry pause and
 * the mark change at any time (a map's words, the timer's setting; with
 * local on, a walk of the host's sockets by the iterator the daemon keeps
 * loaded); the sizes only at start, before the capabilities are dropped: a
 * migration loads programs, which takes CAP_PERFMON, which the daemon gives
 * up once started (docs/SECURITY.md). Under the state lock.
 */
static int apply_load_settings(struct daemon *d, const struct ctaccel_load_opts *o, bool started,
			       const char *what, char *kept, size_t len)
{
	struct apply_walk w = {.what = what, .kept = kept, .len = len};
	unsigned int n;
	int err;

	w.unapplied = calloc(DAEMON_MAX_UNAPPLIED, sizeof(*w.unapplied));
	if (!w.unapplied)
		return -ENOMEM;
	err = ctaccel_apply(d->h, o, started ? DAEMON_STARTED_NO_LOAD : NULL, applied_one, &w, &n);
	if (err) {
		daemon_err("%s: the load settings could not be applied: %s", what, strerror(-err));
	} else {
		pthread_mutex_lock(&d->conf_lock);
		memcpy(d->unapplied, w.unapplied, sizeof(d->unapplied));
		d->nunapplied = w.n;
		pthread_mutex_unlock(&d->conf_lock);
	}
	free(w.unapplied);
	return err;
}

/* Older spellings read from the file or the flags, each a warning. */
static void log_notes(const struct dconf *c)
{
	int i;

	for (i = 0; i < c->nnotes; i++)
		daemon_warn("%s", c->notes[i]);
}

/* One more key in the ", "-separated list of those a reload did not apply. */
static void kept_add(char *kept, size_t len, const char *key)
{
	size_t used = strlen(kept);

	snprintf(kept + used, len - used, "%s%s", used ? ", " : "", key);
}

struct unchanged_walk {
	struct dconf *now, *next;
	char *kept; /* the keys not applied, for the reload's last line */
	size_t len;
};

/* What a reload cannot apply keeps its value, and says so. */
static int keep_unlive(const struct ctaccel_setting_ref *ref, void *ctx)
{
	struct unchanged_walk *w = ctx;
	char was[320], asked[320];
	size_t n;

	/* the load settings the state keeps: apply_load_settings() compares
	 * them with the state itself, but for the cgroup it does not keep */
	if (ref->s->live ||
	    (dconf_base(w->now, ref) != w->now && ref->s->type != CTACCEL_SETTING_PATH))
		return 0;
	for (n = 0;; n++) {
		int a = ctaccel_setting_format(ref, dconf_base(w->now, ref), n, was, sizeof(was));
		int b = ctaccel_setting_format(ref, dconf_base(w->next, ref), n, asked,
					       sizeof(asked));

		if (a && b)
			return 0; /* every value the same */
		if (a || b || strcmp(was, asked))
			break;
	}
	if (ref->s->repeat)
		return 0; /* no repeated setting is fixed */
	ctaccel_setting_format(ref, dconf_base(w->now, ref), 0, was, sizeof(was));
	ctaccel_setting_format(ref, dconf_base(w->next, ref), 0, asked, sizeof(asked));
	daemon_err("reload: %s %s -> %s not applied: %s", ref->key, was, asked,
		   dconf_base(w->now, ref) == w->now ? "it takes a restart of the daemon"
						     : "it takes effect at the next load");
	kept_add(w->kept, w->len, ref->key);
	w->next->err[0] = 0;
	ctaccel_setting_set(ref, dconf_base(w->next, ref), was, w->next->err, sizeof(w->next->err));
	return 0;
}

/* The keys not applied, ", "-separated, into kept ("" when none). */
static void keep_unlive_all(struct dconf *now, struct dconf *next, char *kept, size_t len)
{
	struct unchanged_walk w = {.now = now, .next = next, .kept = kept, .len = len};

	kept[0] = 0;
	ctaccel_settings_each(daemon_settings, keep_unlive, &w);
	ctaccel_settings_each(ctaccel_load_settings, keep_unlive, &w);
}

/* The listeners and the request rate, live: a listener that cannot move
 * stays where it is, and says so. */
static void apply_http(struct daemon *d, struct dconf *next, char *kept, size_t len)
{
	char err[256] = "";
	int rc;

	rc = http_server_relisten(d->http, next->listen, next->control_listen, err, sizeof(err));
	if (rc < 0) {
		daemon_err("reload: %s: the listeners stay on %s%s%s", err, d->conf.listen,
			   d->conf.control_listen[0] ? " and " : "", d->conf.control_listen);
		memcpy(next->listen, d->conf.listen, sizeof(next->listen));
		memcpy(next->control_listen, d->conf.control_listen, sizeof(next->control_listen));
		kept_add(kept, len, "listen");
	} else if (rc > 0) {
		daemon_log("listening on %s%s%s", next->listen,
			   next->control_listen[0] ? ", control on " : "", next->control_listen);
	}
	http_server_set_rate(d->http, next->http_rate);
}

/* How long a reload waits for another ctaccel's change to the state. */
#define RELOAD_LOCK_MS 30000

static void reload(struct daemon *d, int argc, char **argv)
{
	struct dconf *next = malloc(sizeof(*next));
	char kept[256];
	int err;

	if (!next || dconf_read(next, ctaccel_pin_root(d->h), argc, argv)) {
		daemon_err("reload: %s; the configuration in force stays",
			   next ? next->err : strerror(ENOMEM));
		if (next)
			dconf_free(next);
		free(next);
		return;
	}
	log_notes(next);
	keep_unlive_all(&d->conf, next, kept, sizeof(kept));
	pthread_mutex_lock(&d->lock);
	err = ctaccel_lock_wait(d->h, RELOAD_LOCK_MS);
	if (err == -EWOULDBLOCK)
		daemon_err("reload: another ctaccel held the state for %d s",
			   RELOAD_LOCK_MS / 1000);
	err = err ?: daemon_attach_devices(d, next);
	if (!err && next->policy_given)
		err = ctaccel_policy_replace(d->h, next->rules, next->nrules);
	if (!err)
		detach_dropped(d, next);
	if (!err)
		err = apply_load_settings(d, &next->load, true, "reload", kept, sizeof(kept));
	ctaccel_unlock(d->h);
	if (!err)
		apply_http(d, next, kept, sizeof(kept));
	if (!err) {
		pthread_mutex_lock(&d->conf_lock);
		dconf_free(&d->conf);
		d->conf = *next;
		pthread_mutex_unlock(&d->conf_lock);
	} else {
		dconf_free(next);
	}
	pthread_mutex_unlock(&d->lock);
	free(next);
	if (err)
		daemon_err("reload failed: the configuration in force stays");
	else if (kept[0])
		daemon_warn("reloaded configuration, but for %s (not applied: see above)", kept);
	else
		daemon_log("reloaded configuration");
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* systemd's watchdog: half its WATCHDOG_USEC, in seconds; 0 when off. */
static double watchdog_half(void)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");

	if (!usec || (pid && atoi(pid) != getpid()))
		return 0;
	return strtoull(usec, NULL, 10) / 2e6;
}

/* Until SIGTERM or SIGINT: repairs (kernel expiry among them), reloads, and
 * systemd's watchdog fed from here, so that a main loop stuck anywhere is
 * seen. */
static void loop(struct daemon *d, const sigset_t *set, int argc, char **argv)
{
	double next_repair = now_s() + d->conf.repair_interval, half = watchdog_half();
	double next_beat = now_s(), wait;
	struct timespec to;
	siginfo_t si;
	int sig;

	for (;;) {
		if (half && now_s() >= next_beat) {
			sd_notify("WATCHDOG=1\n");
			next_beat = now_s() + half;
		}
		wait = d->conf.repair_interval ? next_repair - now_s() : 3600;
		if (half && next_beat - now_s() < wait)
			wait = next_beat - now_s();
		if (wait < 0)
			wait = 0;
		to.tv_sec = (time_t)wait;
		to.tv_nsec = (long)((wait - to.tv_sec) * 1e9);
		sig = sigtimedwait(set, &si, &to);
		if (sig < 0 && errno != EAGAIN && errno != EINTR)
			return;
		if (sig < 0) {
			if (d->conf.repair_interval && now_s() >= next_repair) {
				daemon_repair(d);
				next_repair = now_s() + d->conf.repair_interval;
			}
			continue;
		}
		if (sig != SIGHUP) {
			daemon_log("signal %d: exiting, datapath %s", sig,
				   d->conf.detach_on_exit ? "detached" : "left attached");
			return;
		}
		sd_notify("RELOADING=1\n");
		reload(d, argc, argv);
		sd_notify("READY=1\n");
	}
}

/* What the HTTP threads hold: nothing. They parse untrusted bytes; the
 * handlers that need a privilege run in the workers (http.h). */
static int http_threads_unprivileged(void)
{
	return ctaccel_caps_keep_only(0);
}

static int serve(struct daemon *d, const sigset_t *set, int argc, char **argv)
{
	struct http_options ho = {.rate = d->conf.http_rate,
				  .unix_group = d->conf.unix_group_access,
				  .unprivileged = http_threads_unprivileged};
	char err[256];
	int rc;

	/* Whatever a crash (of a daemon or a CLI) left half done. */
	daemon_repair(d);
	pthread_mutex_lock(&d->lock);
	if (ctaccel_lock(d->h) == 0) {
		apply_load_settings(d, &d->conf.load, false, "config", NULL, 0);
		ctaccel_unlock(d->h);
	}
	pthread_mutex_unlock(&d->lock);
	/* One loaded socket iterator for every scrape and every walk of a mark
	 * change (local on); without it each would load its own, which needs
	 * capabilities dropped below. */
	if (ctaccel_sockiter_new(d->h, &d->sockiter))
		daemon_warn("host socket metrics unavailable, and the mark changes with local on "
			    "only at a start");
	else
		ctaccel_sockiter_lend(d->h, d->sockiter);
	d->http = http_server_new(api_endpoints, api_nendpoints, d, &ho);
	if (!d->http)
		return -ENOMEM;
	/* Bound with every privilege (a low port), started with fewer. */
	if (http_server_bind(d->http, d->conf.listen, d->conf.control_listen, err, sizeof(err))) {
		daemon_err("%s", err);
		return -EIO;
	}
	rc = ctaccel_caps_keep_only(DAEMON_CAPS);
	if (rc) {
		daemon_err("drop capabilities: %s", strerror(-rc));
		return rc;
	}
	if (http_server_start(d->http, err, sizeof(err))) {
		daemon_err("%s", err);
		return -EIO;
	}
	daemon_log("running: pinned in %s, %d device(s), listening on %s", ctaccel_pin_root(d->h),
		   d->conf.ndev, d->conf.listen);
	sd_notify("READY=1\nSTATUS=tracking\n");
	loop(d, set, argc, argv);
	sd_notify("STOPPING=1\n");
	http_server_stop(d->http);
	return 0;
}

static void detach_configured(struct daemon *d)
{
	unsigned int ifx;
	int i;

	if (ctaccel_lock(d->h))
		return;
	for (i = 0; i < d->conf.ndev; i++) {
		ifx = if_nametoindex(d->conf.devices[i]);
		if (ifx)
			ctaccel_detach(d->h, ifx);
	}
	ctaccel_unlock(d->h);
}

static void daemon_free(struct daemon *d)
{
	http_server_free(d->http);
	if (d->h)
		ctaccel_sockiter_lend(d->h, NULL);
	ctaccel_sockiter_free(d->sockiter);
	if (d->instance_fd >= 0)
		close(d->instance_fd);
	ctaccel_free(d->h);
	dconf_free(&d->conf);
	pthread_mutex_destroy(&d->lock);
	pthread_mutex_destroy(&d->conf_lock);
	free(d);
}

int daemon_main(const char *pin_path, bool tc_filters, int argc, char **argv)
{
	struct ctaccel_opts o = {.print = lib_print, .tc_filters = tc_filters};
	struct daemon *d;
	sigset_t set;
	char **args;
	int i, ret = 1;

	/* argv[0], as a main()'s: "daemon ARGS...". */
	args = calloc(argc + 2, sizeof(*args));
	d = calloc(1, sizeof(*d));
	if (!args || !d) {
		free(args);
		free(d);
		return 1;
	}
	args[0] = (char *)"daemon";
	for (i = 0; i < argc; i++)
		args[i + 1] = argv[i];
	/* Before any thread exists, so that every thread has them blocked: the
	 * main loop alone takes them, with sigtimedwait. A signal that came to
	 * another thread would take its default action and kill the daemon
	 * without its exit path. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->instance_fd = -1;
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->conf_lock, NULL);
	if (dconf_read(&d->conf, pin_path, argc + 1, args)) {
		daemon_err("%s", d->conf.err);
		ret = 2;
	} else if (log_notes(&d->conf), d->conf.help) {
		printf("Usage: ctaccel " DAEMON_USAGE "\n");
		ret = 0;
	} else if (d->conf.check_only) {
		printf("configuration ok\n");
		ret = 0;
	} else {
		o.pin_path = d->conf.pin_path;
		i = ctaccel_host_mounts(o.pin_path);
		if (i > 0)
			daemon_log("using the host's mount namespace: this one hides %s",
				   o.pin_path);
		i = i < 0 ? i : ctaccel_new(&o, &d->h);
		if (i)
			daemon_err("pin-path %s: %s", d->conf.pin_path, strerror(-i));
		else if (!start(d) && !serve(d, &set, argc + 1, args))
			ret = 0;
		if (!ret && d->conf.detach_on_exit)
			detach_configured(d);
	}
	daemon_free(d);
	free(args);
	return ret;
}
