// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* ctaccel [OPTIONS] OBJECT [COMMAND [ARGS]] */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <bpf/libbpf.h>
#include "cli.h"
#include "daemon.h"

/* libbpf's print callback takes no context: the one flag it needs. */
static bool libbpf_debug;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_WARN && !libbpf_debug)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static bool cap_effective(int cap)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2] = {};

	if (syscall(SYS_capget, &hdr, data))
		return false;
	return data[cap / 32].effective & (1U << (cap % 32));
}

/* Root, or the capabilities a systemd unit would grant. */
static bool privileged(void)
{
	return geteuid() == 0 || ((cap_effective(CAP_BPF) || cap_effective(CAP_SYS_ADMIN)) &&
				  cap_effective(CAP_NET_ADMIN));
}

static int do_help(struct cli *c, int argc, char **argv);
static int do_daemon(struct cli *c, int argc, char **argv);

/* `ctaccel load help`: the load settings, from the schema. */
static void load_help(void)
{
	struct ctaccel_load_opts o;

	ctaccel_load_opts_default(&o);
	printf("Settings, as KEY VALUE words (a unique prefix of KEY will do):\n");
	cli_settings_help(ctaccel_load_settings, &o);
}

/* `ctaccel flow help`, `monitor help`: what STATE may be. */
static void states_help(void)
{
	int i;

	printf("STATE, as conntrack prints it:");
	for (i = 1; i < CTACCEL_ST__MAX; i++)
		printf(" %s", ctaccel_state_names[i]);
	printf("\n");
}

/* `ctaccel daemon --help`: its own settings and the load settings, as flags
 * and keys of its file. */
static void daemon_help(void)
{
	struct dconf *d = calloc(1, sizeof(*d));

	if (!d)
		return;
	dconf_defaults(d, NULL);
	printf("Every setting is a flag (--devices eth0) and a key of the file (devices = eth0,\n"
	       "docs/ctaccel.conf.example); flags override the file. SIGHUP re-reads the\n"
	       "configuration and applies what is live; SIGTERM/SIGINT exit and leave the\n"
	       "datapath attached.\n");
	printf("Settings, as --KEY VALUE flags or KEY = VALUE lines of the file:\n");
	cli_settings_help(daemon_settings, d);
	printf("Used when the daemon loads (not when it adopts pinned state), but "
	       "expiry-interval:\n");
	cli_settings_help(ctaccel_load_settings, &d->load);
	dconf_free(d);
	free(d);
}

/* Every command and its usage: `ctaccel help`, `ctaccel OBJECT help` and
 * `ctaccel daemon --help` all print it from here. */
static const struct cmd {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
	const char *usage;
	void (*help)(void); /* more than the usage, after it */
} cmds[] = {
	{"load", do_load, CLI_LOAD_USAGE, load_help},
	{"unload", do_unload, "unload [force]   (force: even while a daemon runs on the state)",
	 NULL},
	{"attach", do_attach, "attach DEV...", NULL},
	{"detach", do_detach, "detach DEV...", NULL},
	{"status", do_status, "status", NULL},
	{"flow", do_flow,
	 "flow [show] [state STATE] [addr ADDR] [port PORT] [proto tcp|udp]\n"
	 "       ctaccel flow count [state STATE] [addr ADDR] [port PORT] [proto tcp|udp]",
	 states_help},
	{"stats", do_stats, "stats", NULL},
	{"gc", do_gc, "gc   (a whole kernel expiry pass now)", NULL},
	{"expiry", do_expiry,
	 "expiry [show] | expiry start [expiry-interval SECONDS] | expiry stop", NULL},
	{"latency", do_latency, "latency [server ADDR [port PORT]]   (handshakes, per server)",
	 NULL},
	{"policy", do_policy,
	 "policy add|del all|PREFIX [port PORT] [proto tcp|udp] [fastpath]\n"
	 "       ctaccel policy show | flush",
	 NULL},
	{"sockets", do_sockets, "sockets", NULL},
	{"tw", do_tw, "tw [top N] [threshold PERCENT]", NULL},
	{"top", do_top, CLI_TOP_USAGE, NULL},
	{"monitor", do_monitor, CLI_MONITOR_USAGE, states_help},
	{"daemon", do_daemon, DAEMON_USAGE, daemon_help},
	{"replace", do_replace,
	 "replace [force]   (live upgrade: this binary's programs, same maps)", NULL},
	{"set", do_set,
	 "set SETTING VALUE...   (the live ones, on the loaded state: 'ctaccel set help')",
	 load_help},
	{"help", do_help, "help", NULL},
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: ctaccel [OPTIONS] OBJECT [COMMAND] [ARGS]\n");
	for (i = 0; i < NCMDS - 1; i++)
		fprintf(f, "       ctaccel %s\n", cmds[i].usage);
	fprintf(f, "OPTIONS: -j/--json, -p/--pretty, -d/--debug, -V/--version, -h/--help,\n"
		   "         --pin-path DIR (default " CTACCEL_PIN_DEFAULT ")\n"
		   "Unique prefixes of objects and commands are accepted (ctaccel fl sh).\n");
}

static int do_help(struct cli *c, int argc, char **argv)
{
	(void)c;
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

/* The daemon is its own client of the library; it gets the pin root given
 * to ctaccel as the default for its own settings, and the environment's
 * choice of hook. */
static int do_daemon(struct cli *c, int argc, char **argv)
{
	return daemon_main(c->pin_path, ctaccel_env_tc_filters(), argc, argv);
}

static int parse_options(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'},
		{"pretty", no_argument, NULL, 'p'},
		{"debug", no_argument, NULL, 'd'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{"pin-path", required_argument, NULL, 'P'},
		{},
	};
	int opt;

	/* Options stop at the first word: the rest belongs to the command. */
	while ((opt = getopt_long(argc, argv, "+jpdVh", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			c->json = true;
			break;
		case 'p':
			c->json = c->pretty = true;
			break;
		case 'd':
			c->debug = true;
			break;
		case 'V':
			printf("ctaccel %s (abi %d, libbpf %s)\n", CTACCEL_VERSION,
			       CTACCEL_ABI_VERSION, libbpf_version_string());
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		case 'P':
			c->pin_path = optarg;
			break;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	return 0;
}

static const struct cmd *find_cmd(struct cli *c, const char *word)
{
	const struct cmd *match = NULL;
	size_t i;

	for (i = 0; i < NCMDS; i++) {
		if (!is_prefix(word, cmds[i].name))
			continue;
		if (match) {
			cli_err(c, "'%s' is ambiguous (%s, %s)", word, match->name, cmds[i].name);
			return NULL;
		}
		match = &cmds[i];
	}
	if (!match)
		cli_err(c, "unknown object '%s'; try 'ctaccel help'", word);
	return match;
}

int main(int argc, char **argv)
{
	struct cli c = {.pin_path = CTACCEL_PIN_DEFAULT};
	struct ctaccel_opts o = {.print = cli_lib_print, .print_ctx = &c};
	const struct cmd *cmd;
	int err, ret;

	if (parse_options(&c, argc, argv))
		return EXIT_USAGE;
	libbpf_debug = c.debug;
	libbpf_set_print(libbpf_print);
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = find_cmd(&c, argv[0]);
	if (!cmd)
		return EXIT_USAGE;
	if (argc > 1 &&
	    (is_prefix(argv[1], "help") ||
	     (cmd->fn == do_daemon && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))))) {
		printf("Usage: ctaccel %s\n", cmd->usage);
		if (cmd->help)
			cmd->help();
		return 0;
	}
	if (cmd->fn == do_help)
		return do_help(&c, argc - 1, argv + 1);
	if (!privileged()) {
		cli_err(&c,
			"%s: Operation not permitted (needs root, or CAP_BPF and CAP_NET_ADMIN)",
			cmd->name);
		return EXIT_RUNTIME;
	}
	if (cmd->fn == do_daemon)
		return do_daemon(&c, argc - 1, argv + 1);
	err = ctaccel_host_mounts(c.pin_path);
	if (err < 0) {
		cli_err(&c, "enter the host's mount namespace: %s", strerror(-err));
		return EXIT_RUNTIME;
	}
	o.pin_path = c.pin_path;
	o.tc_filters = ctaccel_env_tc_filters();
	err = ctaccel_new(&o, &c.h);
	if (err) {
		cli_err(&c, "--pin-path %s: %s", c.pin_path, strerror(-err));
		return EXIT_USAGE;
	}
	ret = cmd->fn(&c, argc - 1, argv + 1);
	ctaccel_free(c.h);
	return ret;
}
