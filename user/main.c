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

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !cli.debug)
		return 0;
	if (level == LIBBPF_INFO && !cli.debug)
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

static int do_help(int argc, char **argv);

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
} cmds[] = {
	{"load", do_load},	 {"unload", do_unload}, {"attach", do_attach},
	{"detach", do_detach},	 {"status", do_status}, {"flow", do_flow},
	{"stats", do_stats},	 {"gc", do_gc},		{"policy", do_policy},
	{"sockets", do_sockets}, {"tw", do_tw},		{"daemon", do_daemon},
	{"replace", do_replace}, {"help", do_help},
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: ctaccel [OPTIONS] OBJECT [COMMAND] [ARGS]\n"
		"       ctaccel load [max-flows N] [mark VALUE/MASK] [timeout STATE SECONDS]...\n"
		"       ctaccel unload\n"
		"       ctaccel attach DEV...\n"
		"       ctaccel detach DEV...\n"
		"       ctaccel status\n"
		"       ctaccel flow [show] [state STATE] [addr ADDR] [port PORT]\n"
		"       ctaccel flow count\n"
		"       ctaccel stats\n"
		"       ctaccel gc\n"
		"       ctaccel policy add|del all|PREFIX [port PORT]\n"
		"       ctaccel policy show | flush\n"
		"       ctaccel sockets\n"
		"       ctaccel tw [top N] [threshold PERCENT]\n"
		"       ctaccel daemon [--config FILE] [--device DEV]... [--listen ADDR:PORT] ...\n"
		"       ctaccel replace [force]   (live upgrade: this binary's programs, same "
		"maps)\n"
		"OPTIONS: -j/--json, -p/--pretty, -d/--debug, -V/--version, -h/--help,\n"
		"         --pin-path DIR (default " CTACCEL_PIN_DEFAULT ")\n"
		"Unique prefixes of objects and commands are accepted (ctaccel fl sh).\n");
}

static int do_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

int main(int argc, char **argv)
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
	const struct cmd *match = NULL;
	size_t i;
	int opt;

	/* Options stop at the first word: the rest belongs to the command. */
	while ((opt = getopt_long(argc, argv, "+jpdVh", opts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			cli.json = true;
			break;
		case 'p':
			cli.json = true;
			cli.pretty = true;
			break;
		case 'd':
			cli.debug = true;
			break;
		case 'V':
			printf("ctaccel %s (abi %d, libbpf %s)\n", CTACCEL_VERSION,
			       CTACCEL_ABI_VERSION, libbpf_version_string());
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		case 'P':
			cli.pin_path = optarg;
			break;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	libbpf_set_print(libbpf_print);
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (!is_prefix(argv[0], cmds[i].name))
			continue;
		if (match) {
			pr_err("'%s' is ambiguous (%s, %s)", argv[0], match->name, cmds[i].name);
			return EXIT_USAGE;
		}
		match = &cmds[i];
	}
	if (!match) {
		pr_err("unknown object '%s'; try 'ctaccel help'", argv[0]);
		return EXIT_USAGE;
	}
	if (match->fn != do_help && !privileged()) {
		pr_err("%s: Operation not permitted (needs root, or CAP_BPF and CAP_NET_ADMIN)",
		       match->name);
		return EXIT_RUNTIME;
	}
	return match->fn(argc - 1, argv + 1);
}
