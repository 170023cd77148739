// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/* [state STATE] [addr ADDR] [port PORT] [proto tcp|udp]: which flows `flow`
 * and `monitor` show. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include "cli.h"

static int filter_value(struct cli *c, const char *verb, size_t k, const char *v,
			struct flow_filter *f)
{
	uint32_t port;

	if (k == 0) {
		f->state = ctaccel_state_parse(v);
		if (f->state < 0) {
			cli_err(c, "%s: unknown state '%s'", verb, v);
			return -EINVAL;
		}
	} else if (k == 1) {
		if (inet_pton(AF_INET, v, f->addr) == 1) {
			f->family = AF_INET;
		} else if (inet_pton(AF_INET6, v, f->addr) == 1) {
			f->family = AF_INET6;
		} else {
			cli_err(c, "%s: '%s' is not an IPv4 or IPv6 address", verb, v);
			return -EINVAL;
		}
	} else if (k == 3) {
		struct ctaccel_rule r;
		char why[80];

		if (ctaccel_rule_set_proto(&r, v, why, sizeof(why))) {
			cli_err(c, "%s: protocol '%s' is not tcp or udp", verb, v);
			return -EINVAL;
		}
		f->proto = r.proto;
	} else {
		if (ctaccel_parse_u32(v, &port) || port > 65535) {
			cli_err(c, "%s: port '%s' is not a number from 0 to 65535", verb, v);
			return -EINVAL;
		}
		f->port = port;
	}
	return 0;
}

int cli_flow_filter(struct cli *c, const char *verb, int argc, char **argv, struct flow_filter *f)
{
	static const char *const keys[] = {"state", "addr", "port", "proto"};
	size_t k;
	int i;

	f->state = -1;
	f->port = -1;
	f->family = 0;
	f->proto = 0;
	for (i = 0; i < argc; i += 2) {
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
			if (is_prefix(argv[i], keys[k]))
				break;
		if (k == sizeof(keys) / sizeof(keys[0])) {
			cli_err(c, "%s: unexpected '%s'", verb, argv[i]);
			return -EINVAL;
		}
		if (i + 1 >= argc) {
			cli_err(c, "%s: '%s' needs a value", verb, argv[i]);
			return -EINVAL;
		}
		if (filter_value(c, verb, k, argv[i + 1], f))
			return -EINVAL;
	}
	return 0;
}

bool cli_filter_match(const struct flow_filter *f, const struct ctaccel_tuple *t, uint32_t state)
{
	size_t alen = t->family == AF_INET ? 4 : 16;

	if (f->state >= 0 && (int)state != f->state)
		return false;
	if (f->proto && t->proto != f->proto)
		return false;
	if (f->port >= 0 && t->sport != f->port && t->dport != f->port)
		return false;
	if (f->family && (t->family != f->family ||
			  (memcmp(t->src, f->addr, alen) && memcmp(t->dst, f->addr, alen))))
		return false;
	return true;
}
