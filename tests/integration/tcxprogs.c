// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
/*
 * The programs on a device's tcx hook, as the kernel lists them (the tests'
 * view of a hook that `tc filter show` and this bpftool do not show):
 *
 *   tcxprogs IFNAME ingress|egress
 *
 * Prints "id ID name NAME" per program, first to run first; nothing for a
 * bare hook. libbpf 1.1's headers predate tcx: the hook's uapi numbers.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>

#define TCX_INGRESS 46
#define TCX_EGRESS  47

int main(int argc, char **argv)
{
	__u32 ids[64], cnt = sizeof(ids) / sizeof(ids[0]), i;
	unsigned int ifindex;
	int type;

	if (argc != 3 || (strcmp(argv[2], "ingress") && strcmp(argv[2], "egress"))) {
		fprintf(stderr, "usage: tcxprogs IFNAME ingress|egress\n");
		return 2;
	}
	ifindex = if_nametoindex(argv[1]);
	if (!ifindex) {
		fprintf(stderr, "tcxprogs: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	type = strcmp(argv[2], "ingress") ? TCX_EGRESS : TCX_INGRESS;
	if (bpf_prog_query(ifindex, type, 0, NULL, ids, &cnt)) {
		fprintf(stderr, "tcxprogs: query %s %s: %s\n", argv[1], argv[2], strerror(errno));
		return 1;
	}
	for (i = 0; i < cnt; i++) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(ids[i]);

		if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
			snprintf((char *)info.name, sizeof(info.name), "?");
		printf("id %u name %s\n", ids[i], info.name);
	}
	return 0;
}
