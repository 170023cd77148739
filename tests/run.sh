#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Run every test suite and end with one line: "N passed, N failed".
# Unit suites (cmocka) report in TAP; a suite that dies counts its missing
# tests as failed.
set -u
cd "$(dirname "$0")/.."
OUTPUT=${OUTPUT:-.output}

passed=0
failed=0

run_tap() {
	local name=$1
	shift
	local log plan ok notok
	log=$(mktemp)
	echo "== $name"
	CMOCKA_MESSAGE_OUTPUT=TAP "$@" 2>&1 | tee "$log"
	plan=$(sed -n 's/^1\.\.\([0-9]\+\).*/\1/p' "$log" | head -n1)
	ok=$(grep -c '^ok ' "$log")
	notok=$(grep -c '^not ok ' "$log")
	rm -f "$log"
	if [[ -z $plan ]]; then
		echo "$name: no test plan (suite did not start)"
		plan=$((ok + notok))
		((plan > 0)) || plan=1
	fi
	passed=$((passed + ok))
	failed=$((failed + plan - ok))
}

if [[ $(id -u) -ne 0 ]]; then
	echo "ctaccel: tests need root (BPF_PROG_TEST_RUN, namespaces)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
ulimit -l unlimited 2>/dev/null || true
mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf

# Whatever a crashed suite left behind: namespaces and pins of the tests.
cleanup() {
	local ns pin
	for ns in $(ip netns list 2>/dev/null | awk '/^ctacc-/ {print $1}'); do
		ip netns del "$ns" 2>/dev/null
	done
	for pin in /sys/fs/bpf/ctaccel-test-*; do
		[[ -e $pin ]] || continue
		./ctaccel --pin-path "$pin" unload force >/dev/null 2>&1
		rm -rf "$pin"
	done
}
trap cleanup EXIT

for t in "$OUTPUT"/test_*; do
	[[ -x $t ]] || continue
	run_tap "$(basename "$t")" "$t"
done
# The datapath's unit suite again on the programs an older kernel gets
# (Linux 6.1's paths, forced here: docs/kernels.md).
CTACCEL_WITHOUT=checksum_status,route_memo,fib_lookup,expiry \
	run_tap "test_tracker (6.1's paths)" "$OUTPUT/test_tracker"

# The static checks (make check): each rule over the product, then over its
# bad example, where it must report.
run_tap "static checks" bash scripts/check/run.sh

# Each fuzz target for a few seconds, over its committed corpus first.
run_tap "fuzz (smoke)" bash tests/fuzz/run.sh smoke

for t in tests/integration/*.bats; do
	run_tap "$(basename "$t")" bats --tap "$t"
done

# The CLI and daemon suites once more on the ASan/UBSan build.
run_tap "sanitized" bash tests/integration/sanitized.sh

# The core suite on Debian 12's kernel and the 6.12 series, each in a
# virtual machine (tests/kernels/run.sh).
run_tap "kernels" bash tests/kernels/run.sh

echo "$passed passed, $failed failed"
((failed == 0))
