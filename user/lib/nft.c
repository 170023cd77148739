// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * The nftables side of the bypass: table inet ctaccel with raw-priority
 * chains that send marked packets past nf_conntrack. Installed and replaced in
 * one libnftables transaction, so there is never half a table.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <nftables/libnftables.h>
#include "internal.h"

/* `cmd` through libnftables; its listing into out (NULL: dropped). */
static int nft_run_out(struct ctaccel *h, const char *cmd, bool quiet, char *out, size_t outlen)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	int rc;

	if (!ctx) {
		if (!quiet)
			pr_warn(h, "nft: cannot create a libnftables context");
		return -ENOMEM;
	}
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	rc = nft_run_cmd_from_buffer(ctx, cmd);
	if (!rc && out)
		snprintf(out, outlen, "%s", nft_ctx_get_output_buffer(ctx));
	if (rc && !quiet) {
		char msg[512];
		size_t n;

		/* One line: libnftables ends its message with a newline. */
		snprintf(msg, sizeof(msg), "%s", nft_ctx_get_error_buffer(ctx));
		n = strlen(msg);
		while (n && msg[n - 1] == '\n')
			msg[--n] = 0;
		pr_warn(h, "nft: %s", msg);
	}
	nft_ctx_free(ctx);
	return rc ? -EIO : 0;
}

static int nft_run(struct ctaccel *h, const char *cmd, bool quiet)
{
	return nft_run_out(h, cmd, quiet, NULL, 0);
}

bool ctaccel_nft_present(struct ctaccel *h)
{
	return nft_run(h, "list table inet ctaccel", true) == 0;
}

/* How many lines of `text` hold `what`. */
static int lines_with(const char *text, const char *what)
{
	const char *p = text;
	int n = 0;

	while ((p = strstr(p, what))) {
		n++;
		p = strchr(p, '\n');
		if (!p)
			break;
	}
	return n;
}

/*
 * The marks of the table's notrack rules, as nft lists what
 * nft_install_marks() wrote: both hooks, each with one rule per mark, the
 * same in both, and nothing else. The number of marks; -EINVAL when the
 * table is not so; -ENOENT when there is none.
 */
/* A mark's notrack rule as nft lists it: a full mask is left out. */
static void mark_rule_listed(char *buf, size_t len, __u64 m)
{
	if (ctaccel_mark_mask(m) == 0xffffffff)
		snprintf(buf, len, "meta mark 0x%08x notrack\n", ctaccel_mark_value(m));
	else
		snprintf(buf, len, "meta mark & 0x%08x == 0x%08x notrack\n", ctaccel_mark_mask(m),
			 ctaccel_mark_value(m));
}

static int nft_marks(struct ctaccel *h, __u64 *marks, int max)
{
	char text[8192], rule[96];
	unsigned int value, mask;
	const char *p;
	int n = 0, i;

	if (nft_run_out(h, "list table inet ctaccel", true, text, sizeof(text)))
		return -ENOENT;
	for (p = text; (p = strstr(p, "meta mark ")); p++) {
		mask = 0xffffffff;
		if (sscanf(p, "meta mark & 0x%x == 0x%x notrack", &mask, &value) != 2 &&
		    sscanf(p, "meta mark 0x%x notrack", &value) != 1)
			return -EINVAL;
		for (i = 0; i < n && marks[i] != ctaccel_mark_word(value, mask); i++)
			;
		if (i < n)
			continue;
		if (n == max)
			return -EINVAL;
		marks[n++] = ctaccel_mark_word(value, mask);
	}
	if (lines_with(text, "hook prerouting priority raw; policy accept;") != 1 ||
	    lines_with(text, "hook output priority raw; policy accept;") != 1 ||
	    lines_with(text, "type ") != 2 || lines_with(text, "\t\t") != 2 + 2 * n)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		mark_rule_listed(rule, sizeof(rule), marks[i]);
		if (lines_with(text, rule) != 2)
			return -EINVAL;
	}
	return n;
}

int nft_table_marks(struct ctaccel *h, __u64 live, __u64 *others, int max)
{
	__u64 marks[CTACCEL_NFT_MAX_MARKS + 1];
	int n, i, k = 0;
	bool seen = false;

	n = nft_marks(h, marks, CTACCEL_NFT_MAX_MARKS + 1);
	if (n < 0)
		return n;
	for (i = 0; i < n; i++) {
		if (marks[i] == live)
			seen = true;
		else if (k < max)
			others[k++] = marks[i];
		else
			return -EINVAL;
	}
	return seen ? k : -EINVAL;
}

enum ctaccel_nft_table ctaccel_nft_table(struct ctaccel *h)
{
	__u64 others[CTACCEL_NFT_MAX_MARKS];
	struct ctaccel_live t;
	int n;

	if (state_live(h, &t))
		return ctaccel_nft_present(h) ? CTACCEL_NFT_OTHER : CTACCEL_NFT_ABSENT;
	/* the mark in force, and any a change keeps for sockets that hold it
	 * (one listing, which also says whether there is a table) */
	n = nft_table_marks(h, t.mark, others, CTACCEL_NFT_MAX_MARKS);
	if (n == -ENOENT)
		return CTACCEL_NFT_ABSENT;
	return n < 0 ? CTACCEL_NFT_OTHER : CTACCEL_NFT_CURRENT;
}

int ctaccel_nft_retiring(struct ctaccel *h, uint64_t *marks, int max)
{
	struct ctaccel_live t;
	int err = state_live(h, &t);

	err = err ?: nft_table_marks(h, t.mark, (__u64 *)marks, max);
	return err == -ENOENT || err == -EINVAL ? 0 : err;
}

int nft_install_marks(struct ctaccel *h, const __u64 *marks, size_t n)
{
	static const char *const hooks[] = {"prerouting", "output"};
	char cmd[2048];
	size_t len, i, j;

	/* add + delete + define: replaces any older table atomically. */
	len = snprintf(cmd, sizeof(cmd),
		       "add table inet ctaccel\ndelete table inet ctaccel\ntable inet ctaccel {\n");
	for (i = 0; i < 2 && len < sizeof(cmd); i++) {
		len += snprintf(cmd + len, sizeof(cmd) - len,
				"\tchain %s {\n"
				"\t\ttype filter hook %s priority raw; policy accept;\n",
				hooks[i], hooks[i]);
		for (j = 0; j < n && len < sizeof(cmd); j++)
			len += snprintf(cmd + len, sizeof(cmd) - len,
					"\t\tmeta mark & 0x%08x == 0x%08x notrack\n",
					ctaccel_mark_mask(marks[j]), ctaccel_mark_value(marks[j]));
		if (len < sizeof(cmd))
			len += snprintf(cmd + len, sizeof(cmd) - len, "\t}\n");
	}
	if (len < sizeof(cmd))
		len += snprintf(cmd + len, sizeof(cmd) - len, "}\n");
	if (len >= sizeof(cmd))
		return lib_fail(h, -E2BIG, "nft: the table's text");
	return nft_run(h, cmd, false);
}

int ctaccel_nft_install(struct ctaccel *h)
{
	struct ctaccel_live t;
	int err;

	err = state_live(h, &t);
	return err ?: nft_install_marks(h, &t.mark, 1);
}

int ctaccel_nft_remove(struct ctaccel *h)
{
	if (!ctaccel_nft_present(h))
		return 0;
	return nft_run(h, "delete table inet ctaccel", false);
}
