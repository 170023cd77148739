#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# The core suite, run inside a kernel's virtual machine (tests/kernels/run.sh):
# the integration tests that prove ctaccel on a kernel, unchanged, as TAP with
# each test named after its file. What each file proves there:
#   oracle.bats      TCP flows equal `conntrack -L` flow by flow through a
#                    gateway; a live replace under traffic loses no packet
#   udp.bats         UDP flows equal conntrack's, bypass and the socket hooks
#                    (its core: the other tests repeat those paths at length)
#   bypass.bats      a bypass policy leaves conntrack at 0, the same end states
#   sockets.bats     TIME_WAIT exact against `ss`, the socket tracepoint
#   expiry.bats      expiry with no userspace process running
#   upgrade.bats     a live upgrade under traffic (the soak, short)
#   migrate.bats     the flow table migrated to other sizes under traffic,
#                    every flow equal to conntrack's (the migration's
#                    programs verify on this kernel)
#   prometheus.bats  the daemon's metrics, checked by promtool and Prometheus
#   kernel.bats      the paths this kernel got, as status and /metrics say
#                    (CTACCEL_EXPECT_PATHS, from run.sh), and 6.1's paths exact
#   segments.bats    a packet over the MTU that may not be fragmented starts
#                    no flow, as in nf_conntrack (the MTU the FIB helper
#                    returns is this kernel's; the route kinds' answers are
#                    its fixed return codes, checked on the host: each
#                    scapy run costs ~50 s under TCG)
set -u
cd "$(dirname "$0")/../.."
# Counts that take longer to make under emulation than they live are
# divided (sockets.bats: TIME_WAIT lasts 60 s); every comparison stays exact.
export CTACCEL_TEST_SCALE=${CTACCEL_TEST_SCALE:-10}
# FILE or FILE:REGEX (only the tests whose names match, bats -f)
suite=(
	kernel
	oracle
	"udp:^(IPv4|IPv6): every UDP|^policy add all|^2 CPUs|^local UDP sockets"
	bypass
	sockets
	expiry
	upgrade
	"migrate:^max-flows grows"
	prometheus
	"segments:^over.the.MTU"
)
if [[ -n ${CTACCEL_KERNEL_SUITE:-} ]]; then
	read -r -a suite <<<"$CTACCEL_KERNEL_SUITE"
fi
n=0
out=$(mktemp)
for entry in "${suite[@]}"; do
	f=${entry%%:*}
	filter=()
	[[ $entry == *:* ]] && filter=(-f "${entry#*:}")
	bats --tap "${filter[@]}" "tests/integration/$f.bats" >"$out" 2>&1
	while IFS= read -r line; do
		case $line in
		"ok "* | "not ok "*)
			n=$((n + 1))
			# renumbered, the file's name in front of the test's
			echo "$line" | sed -E "s/^(not ok|ok) [0-9]+ /\\1 $n $f: /"
			;;
		1..*) ;;
		*) echo "$line" ;;
		esac
	done <"$out"
	# a file that stopped before its plan: its missing tests fail
	plan=$(sed -n 's/^1\.\.\([0-9]\+\).*/\1/p' "$out" | head -n1)
	got=$(grep -cE '^(not )?ok ' "$out")
	while ((${plan:-1} > got)); do
		n=$((n + 1))
		got=$((got + 1))
		echo "not ok $n $f: did not run (the file stopped early)"
	done
done
rm -f "$out"
echo "1..$n"
