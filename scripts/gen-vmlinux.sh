#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Regenerate vmlinux.h from the running kernel's BTF. The file is committed so
# that a build does not depend on the build machine's kernel; CO-RE relocates
# field offsets at load time.
set -euo pipefail
cd "$(dirname "$0")/.."
btf=${1:-/sys/kernel/btf/vmlinux}
if [[ ! -r $btf ]]; then
	echo "ctaccel: gen-vmlinux: $btf: No such file or directory" >&2
	exit 1
fi
tmp=$(mktemp vmlinux.h.XXXXXX)
trap 'rm -f "$tmp"' EXIT
bpftool btf dump file "$btf" format c >"$tmp"
chmod 0644 "$tmp"
mv "$tmp" vmlinux.h
trap - EXIT
echo "ctaccel: wrote vmlinux.h from $btf ($(uname -r))"
