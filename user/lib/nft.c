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

static int nft_run(struct ctaccel *h, const char *cmd, bool quiet)
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

bool ctaccel_nft_present(struct ctaccel *h)
{
	return nft_run(h, "list table inet ctaccel", true) == 0;
}

int ctaccel_nft_install(struct ctaccel *h)
{
	char cmd[1024];

	/* add + delete + define: replaces any older table atomically. */
	snprintf(cmd, sizeof(cmd),
		 "add table inet ctaccel\n"
		 "delete table inet ctaccel\n"
		 "table inet ctaccel {\n"
		 "\tchain prerouting {\n"
		 "\t\ttype filter hook prerouting priority raw; policy accept;\n"
		 "\t\tmeta mark & 0x%08x == 0x%08x notrack\n"
		 "\t}\n"
		 "\tchain output {\n"
		 "\t\ttype filter hook output priority raw; policy accept;\n"
		 "\t\tmeta mark & 0x%08x == 0x%08x notrack\n"
		 "\t}\n"
		 "}\n",
		 h->cfg.mark_mask, h->cfg.mark, h->cfg.mark_mask, h->cfg.mark);
	return nft_run(h, cmd, false);
}

int ctaccel_nft_remove(struct ctaccel *h)
{
	if (!ctaccel_nft_present(h))
		return 0;
	return nft_run(h, "delete table inet ctaccel", false);
}
