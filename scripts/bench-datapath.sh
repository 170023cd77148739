#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Per-packet cost of the tc tracker against an empty tc program, measured side
# by side in one run with BPF_PROG_TEST_RUN. Arguments go to bench_datapath
# (-r ROUNDS, -n REPEAT, -f FLOWS).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) -ne 0 ]]; then
	echo "ctaccel: bench-datapath: needs root" >&2
	exit 1
fi
ulimit -l unlimited 2>/dev/null || true
echo "ctaccel datapath benchmark, $(date -u +%Y-%m-%dT%H:%MZ), kernel $(uname -r), $(nproc) CPUs"
exec "${OUTPUT:-.output}/bench_datapath" "$@"
