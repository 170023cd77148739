// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * The first program of a BPF object on a device's tcx ingress hook (Linux
 * 6.6+: no qdisc, no filter chain), as a link pinned where asked, so that it
 * stays after this process exits:
 *
 *   tcxattach OBJECT IFNAME LINK_PIN
 *
 * For the gateway benchmark only (scripts/bench-gateway.sh), which weighs the
 * tcx hook against clsact's. libbpf 1.1 has no tcx helpers: the link is made
 * with bpf_link_create() and the hook's number. Removing the pin and the
 * device's namespace detaches it.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#define TCX_INGRESS 46 /* BPF_TCX_INGRESS, newer than this libbpf's headers */

int main(int argc, char **argv)
{
	struct bpf_object *obj = NULL;
	struct bpf_program *prog;
	unsigned int ifindex;
	int link = -1, err;

	if (argc != 4) {
		fprintf(stderr, "usage: tcxattach OBJECT IFNAME LINK_PIN\n");
		return 2;
	}
	ifindex = if_nametoindex(argv[2]);
	if (!ifindex) {
		fprintf(stderr, "tcxattach: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	err = libbpf_get_error(obj);
	if (err) {
		obj = NULL;
		goto cleanup;
	}
	err = bpf_object__load(obj);
	if (err)
		goto cleanup;
	prog = bpf_object__next_program(obj, NULL);
	if (!prog) {
		err = -ENOENT;
		goto cleanup;
	}
	link = bpf_link_create(bpf_program__fd(prog), ifindex, TCX_INGRESS, NULL);
	if (link < 0) {
		err = -errno;
		goto cleanup;
	}
	if (bpf_obj_pin(link, argv[3]))
		err = -errno;
cleanup:
	if (err)
		fprintf(stderr, "tcxattach: %s on %s: %s\n", argv[1], argv[2], strerror(-err));
	if (link >= 0)
		close(link);
	bpf_object__close(obj);
	return err ? 1 : 0;
}
