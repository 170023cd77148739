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
OUT=${OUTPUT:-.output}
echo "ctaccel datapath benchmark, $(date -u +%Y-%m-%dT%H:%MZ), kernel $(uname -r), $(nproc) CPUs"
"$OUT/bench_datapath" "$@"

# With no monitor, what the events code costs: this build against one built
# without it (make bench-datapath builds both), alternating, 1,000 flows.
[[ -x $OUT/noevents/bench_datapath ]] || exit 0
first_syn() { "$1" -r 3 -f 1000 2>/dev/null | awk -F'|' '/first SYN, insert/ {print $4 + 0}'; }
est() { "$1" -r 3 -f 1000 2>/dev/null | awk -F'|' '/established packet, 1k/ {print $4 + 0}'; }
declare -a with without ewith ewithout
for _ in 1 2 3 4 5; do
	with+=("$(first_syn "$OUT/bench_datapath")")
	without+=("$(first_syn "$OUT/noevents/bench_datapath")")
	ewith+=("$(est "$OUT/bench_datapath")")
	ewithout+=("$(est "$OUT/noevents/bench_datapath")")
done
med() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
echo
echo "No monitor: the events code against a build without it (5 alternating runs of 3 rounds, medians)"
printf '| %-36s | %14s | %14s |\n' "ns per packet" "events code" "none"
printf '| %-36s | %14s | %14s |\n' "first SYN, insert" "$(med "${with[@]}")" "$(med "${without[@]}")"
printf '| %-36s | %14s | %14s |\n' "established packet, 1k flows" "$(med "${ewith[@]}")" "$(med "${ewithout[@]}")"
