// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * The nftables side of the bypass: table inet ctaccel with raw-priority
 * chains that send marked packets past nf_conntrack. Installed and replaced in
 * one libnftables transaction, so there is never half a table.
 */
#include <errno.h>
#include <stdio.h>
#include <nftables/libnftables.h>
#include "cli.h"

static int nft_run(const char *cmd, bool quiet)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	int rc;

	if (!ctx) {
		pr_err("nft: cannot create a libnftables context");
		return -ENOMEM;
	}
	nft_ctx_buffer_output(ctx);
	nft_ctx_buffer_error(ctx);
	rc = nft_run_cmd_from_buffer(ctx, cmd);
	if (rc && !quiet)
		pr_err("nft: %s", nft_ctx_get_error_buffer(ctx));
	nft_ctx_free(ctx);
	return rc ? -EIO : 0;
}

bool nft_table_present(void)
{
	return nft_run("list table inet ctaccel", true) == 0;
}

int nft_table_install(uint32_t mark, uint32_t mask)
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
		 mask, mark, mask, mark);
	return nft_run(cmd, false);
}

int nft_table_remove(void)
{
	if (!nft_table_present())
		return 0;
	return nft_run("delete table inet ctaccel", false);
}
