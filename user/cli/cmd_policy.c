// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* ctaccel policy add|del all|PREFIX [port PORT] [proto tcp|udp] [fastpath], show, flush. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "ctjson.h"

static int rule_args(struct cli *c, int argc, char **argv, struct ctaccel_rule *r)
{
	char why[256];

	if (ctaccel_rule_words(argc, argv, r, why, sizeof(why))) {
		cli_err(c, "%s", why);
		return EXIT_USAGE;
	}
	return 0;
}

static int policy_show(struct cli *c)
{
	struct ctaccel_rule *rules;
	char text[96];
	size_t n, i;

	if (ctaccel_open(c->h) || ctaccel_policy_read(c->h, &rules, &n))
		return EXIT_RUNTIME;
	if (c->json) {
		cli_json(c, ctjson_rules(rules, n));
	} else {
		if (!n)
			printf("no policy: ctaccel only tracks\n");
		for (i = 0; i < n; i++) {
			ctaccel_rule_format(&rules[i], text, sizeof(text));
			printf("bypass %s\n", text);
		}
	}
	free(rules);
	return 0;
}

enum policy_op { OP_ADD, OP_DEL, OP_FLUSH };

static int policy_apply(struct cli *c, enum policy_op op, const struct ctaccel_rule *r)
{
	char text[96];
	int err;

	if (ctaccel_lock(c->h))
		return EXIT_RUNTIME;
	err = ctaccel_open(c->h);
	if (!err && op == OP_FLUSH)
		err = ctaccel_policy_replace(c->h, NULL, 0);
	else if (!err)
		err = op == OP_ADD ? ctaccel_policy_add(c->h, r) : ctaccel_policy_del(c->h, r);
	ctaccel_unlock(c->h);
	if (op == OP_FLUSH) {
		if (err)
			return cli_fail(c, EXIT_RUNTIME, "policy flush: %s", strerror(-err));
		cli_info(c, "policy flushed: ctaccel only tracks new flows\n");
		return 0;
	}
	/* What is stored, which is what the next `policy show` prints. */
	ctaccel_rule_format(r, text, sizeof(text));
	if (err == -ENOENT)
		return cli_fail(c, EXIT_RUNTIME, "policy del %s: no such rule", text);
	if (err)
		return cli_fail(c, EXIT_RUNTIME, "policy %s %s: %s", op == OP_ADD ? "add" : "del",
				text, strerror(-err));
	cli_info(c, "policy %s %s\n", op == OP_ADD ? "added" : "deleted", text);
	return 0;
}

int do_policy(struct cli *c, int argc, char **argv)
{
	struct ctaccel_rule r;
	enum policy_op op;
	int rc;

	if (!argc || is_prefix(argv[0], "show")) {
		if (argc > 1) {
			cli_err(c, "policy show: unexpected '%s'", argv[1]);
			return EXIT_USAGE;
		}
		return policy_show(c);
	}
	if (is_prefix(argv[0], "flush")) {
		if (argc > 1) {
			cli_err(c, "policy flush: unexpected '%s'", argv[1]);
			return EXIT_USAGE;
		}
		return policy_apply(c, OP_FLUSH, NULL);
	}
	if (is_prefix(argv[0], "add")) {
		op = OP_ADD;
	} else if (is_prefix(argv[0], "delete")) {
		op = OP_DEL;
	} else {
		cli_err(c, "policy: unknown command '%s'", argv[0]);
		return EXIT_USAGE;
	}
	rc = rule_args(c, argc - 1, argv + 1, &r);
	return rc ? rc : policy_apply(c, op, &r);
}
