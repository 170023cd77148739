#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Run every fuzz target for a bounded time, in TAP: `smoke` (seconds each,
# part of make test) or `long` (make fuzz; FUZZ_SECONDS each, default 120).
# The committed corpus (tests/fuzz/corpus/TARGET) is only read; new inputs go
# to a scratch directory (smoke) or fuzz-out/TARGET (long, not committed). A
# crash leaves its input in fuzz-out/crashes and fails the target.
set -u
cd "$(dirname "$0")/../.."
OUT=${OUTPUT:-.output}
mode=${1:-smoke}
case $mode in
smoke) secs=${FUZZ_SECONDS:-4} ;;
long) secs=${FUZZ_SECONDS:-120} ;;
*)
	echo "usage: $0 smoke|long" >&2
	exit 2
	;;
esac
targets=(packet args config http)
crashes=fuzz-out/crashes
mkdir -p "$crashes"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

echo "1..${#targets[@]}"
n=0
total=0
for t in "${targets[@]}"; do
	n=$((n + 1))
	if [[ $mode == long ]]; then
		work=fuzz-out/$t
	else
		work=$scratch/$t
	fi
	mkdir -p "$work"
	log=$scratch/$t.log
	start=$(date +%s)
	"$OUT/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-max_len=2048 -print_final_stats=1 -artifact_prefix="$crashes/$t-" \
		"$work" "tests/fuzz/corpus/$t" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
	total=$((total + ${runs:-0}))
	if [[ $rc -eq 0 && -n $runs ]]; then
		echo "ok $n - fuzz_$t: ${runs} inputs in $(($(date +%s) - start)) s," \
			"corpus $(ls "tests/fuzz/corpus/$t" | wc -l) seeds + $(ls "$work" | wc -l) found"
	else
		echo "not ok $n - fuzz_$t (exit $rc)"
		grep -E 'ERROR|SUMMARY|fuzz_|: .*(abort|differ|not|changed)' "$log" | head -n 20 |
			sed 's/^/# /'
		ls "$crashes"/"$t"-* 2>/dev/null | sed 's/^/# input: /'
	fi
done
echo "# $total inputs in all"
