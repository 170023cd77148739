#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# make bench: every benchmark in one go, then bench/results.md (the tables),
# bench/results.json (the same rows, machine-readable) and bench/results.png
# (a chart). Never part of make test. The generated files are not committed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh bench
mkdir -p bench
run() {
	local name=$1
	shift
	echo "== $name" >&2
	"$@" 2>&1 | tee "bench/$name.txt" >&2
}
# BENCH_REPORT_ONLY=1 rewrites the report from the last run's bench/*.txt.
if [[ -z ${BENCH_REPORT_ONLY:-} ]]; then
	run datapath bash scripts/bench-datapath.sh
	run timewait bash scripts/bench-tw.sh
	run read bash scripts/bench-read.sh
	run crr bash scripts/bench-crr.sh
	run gateway bash scripts/bench-gateway.sh
	run expiry bash scripts/bench-expiry.sh
fi

{
	echo "# ctaccel benchmark results"
	echo
	echo "$(date -u '+%F %H:%M UTC'), $(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), kernel $(uname -r)."
	echo "Each section is one script's output; variants alternate within rounds; medians."
	for s in datapath timewait read crr gateway expiry; do
		echo
		echo "## $s"
		echo
		# The summaries: tables and their captions, not the progress lines.
		grep -Ev '^(round [0-9]|pressure |filling |making |bench:|== |build [0-9]|  tx )' "bench/$s.txt" |
			grep -v '^$' || true
	done
} >bench/results.md

# Every table row as {section, row, values}: the same figures, for machines.
for s in datapath timewait read crr gateway; do
	grep '^|' "bench/$s.txt" | grep -v -- '---' | awk -v s="$s" -F'|' '
	{
		name = $2; gsub(/^ +| +$/, "", name)
		printf "{\"section\":\"%s\",\"row\":\"%s\",\"values\":[", s, name
		for (i = 3; i < NF; i++) {
			v = $i; gsub(/^ +| +$/, "", v); gsub(/"/, "", v)
			printf "%s\"%s\"", (i > 3 ? "," : ""), v
		}
		print "]}"
	}'
done | jq -s '{date: (now | todate), rows: .}' >bench/results.json

# Chart: connection rate per variant (CRR) and ns per packet (datapath).
grep -E '^\| (none|conntrack|track|bypass) ' bench/crr.txt | head -n 4 | awk -F'|' '{gsub(/ /, "", $2); gsub(/ /, "", $3); print $2, $3}' >bench/crr.dat
grep -E '^\| (empty|established|first)' bench/datapath.txt | awk -F'|' '{n = $2; gsub(/^ +| +$/, "", n); gsub(/ /, "_", n); gsub(/ /, "", $4); print n, $4}' >bench/datapath.dat
gnuplot <<'GP'
set terminal pngcairo size 1200,500 noenhanced
set output 'bench/results.png'
set multiplot layout 1,2
set style data histograms
set style fill solid 0.8
set boxwidth 0.7
set grid ytics
set yrange [0:*]
set title 'Connections per second through the gateway'
plot 'bench/crr.dat' using 2:xtic(1) notitle lc rgb '#3b75af'
set title 'ns per packet (BPF_PROG_TEST_RUN)'
set xtics rotate by -20
plot 'bench/datapath.dat' using 2:xtic(1) notitle lc rgb '#c03d3e'
unset multiplot
GP
echo "wrote bench/results.md, bench/results.json, bench/results.png" >&2
