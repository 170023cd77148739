#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# make soak: connection churn through the gateway for SOAK_SECONDS (default
# 600) with the daemon running GC, restarted every RESTART_EVERY seconds
# (SIGTERM and kill -9 in turn) and the policy replaced every POLICY_EVERY
# seconds through its API, which is also read every second. At the end:
# the table stayed bounded, the daemon's memory did not grow within a
# lifetime, the gauges equal the table, and the created flows equal the
# generator's connection attempts. Exits non-zero if a check fails.
set -euo pipefail
cd "$(dirname "$0")/.."
SOAK_SECONDS=${SOAK_SECONDS:-600}
RESTART_EVERY=${RESTART_EVERY:-60}
POLICY_EVERY=${POLICY_EVERY:-10}
THREADS=${THREADS:-4}
MAX_FLOWS=${MAX_FLOWS:-262144}
OUT=${OUTPUT:-.output}
PORT=9474
# shellcheck source=../tests/integration/lib.bash
source tests/integration/lib.bash
topo_names "soak$$"
BATS_FILE_TMPDIR=$(mktemp -d)
daemon_pid() { cat "$BATS_FILE_TMPDIR/daemon.pid"; }
cleanup() {
	if [[ -f $BATS_FILE_TMPDIR/daemon.pid ]]; then kill -9 "$(daemon_pid)" 2>/dev/null || true; fi
	topo_down
	rm -rf "$BATS_FILE_TMPDIR"
}
trap cleanup EXIT

mountpoint -q /sys/fs/bpf || mount -t bpf bpf /sys/fs/bpf
topo_up
oracle_on
for p in 81 82 83; do
	ip netns exec "$S" "$TCPGEN" server 198.18.1.2 "$p" >/dev/null 2>&1 &
done
# Short closing timeouts: GC has work all the time.
ctaccel_g load max-flows "$MAX_FLOWS" timeout-time-wait 5 timeout-close 5 timeout-fin-wait 5 \
	timeout-last-ack 5 >/dev/null
DAEMON_ARGS=(--expiry-interval 2 --repair-interval 5)
daemon_start "${DAEMON_ARGS[@]}"

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$(daemon_pid)/status" 2>/dev/null || echo 0; }
# Each policy bypasses all of the churn, in a different form: every swap
# changes the trie in use, while nf_conntrack (on in the gateway) never
# becomes the bottleneck that ctaccel exists to remove.
policies=('{"rules":[{"prefix":"all"}]}'
	'{"rules":[{"prefix":"198.18.0.0/15"},{"prefix":"2001:db8::/32"}]}'
	'{"rules":[{"prefix":"198.18.1.2/32","port":80},{"prefix":"198.18.1.2/32","port":81},{"prefix":"198.18.1.2/32","port":82},{"prefix":"198.18.1.2/32","port":83}]}')

echo "soak: ${SOAK_SECONDS}s of churn, $THREADS threads; daemon restarted every ${RESTART_EVERY}s," \
	"policy replaced every ${POLICY_EVERY}s"
in_ns "$C" "$OUT/crr" 198.18.1.2 80,81,82,83 "$SOAK_SECONDS" "$THREADS" >"$BATS_FILE_TMPDIR/crr" &
gen=$!
start=$(date +%s)
next_policy=$POLICY_EVERY next_print=10 rss_peak=0
lifetime=0 life_start=$start restarts=0 kills=0 swaps=0 swap_fail=0 api_fail=0 max_flows=0
# Memory per lifetime: the lowest RSS in its middle third and in its last
# third. A leak lifts the floor; transient buffers do not. The first third is
# warm-up: the heap reaches its working size within about 20 s (measured in
# single 2- and 3-minute lifetimes, flat after that).
declare -a rss_early rss_late
rss_early[0]=999999999
rss_late[0]=999999999
while kill -0 "$gen" 2>/dev/null; do
	sleep 1
	t=$(($(date +%s) - start))
	age=$(($(date +%s) - life_start))
	# the API, read as a sidecar and Prometheus would
	for path in /metrics /v1/status /v1/policy; do
		url -o /dev/null -f "http://127.0.0.1:$PORT$path" || api_fail=$((api_fail + 1))
	done
	n=$(ctaccel_g -j flow count | jq .flows)
	((n > max_flows)) && max_flows=$n
	if ((t >= next_print)); then
		echo "t=${t}s flows=$n daemon_rss_kb=$(rss_kb) lifetime=$lifetime"
		next_print=$((next_print + 10))
	fi
	# by deadline, not by t % N: an iteration takes more than its second
	if ((t >= next_policy)); then
		next_policy=$((next_policy + POLICY_EVERY))
		body=${policies[$((swaps % ${#policies[@]}))]}
		if [[ $(url -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -X PUT -d "$body" "http://127.0.0.1:$PORT/v1/policy") == 200 ]]; then
			swaps=$((swaps + 1))
		else
			swap_fail=$((swap_fail + 1))
		fi
	fi
	r=$(rss_kb)
	((r > rss_peak)) && rss_peak=$r
	if ((age >= RESTART_EVERY / 3 && age < RESTART_EVERY * 2 / 3 && r < rss_early[lifetime])); then
		rss_early[lifetime]=$r
	fi
	if ((age >= RESTART_EVERY * 2 / 3 && r < rss_late[lifetime])); then
		rss_late[lifetime]=$r
	fi
	if ((age >= RESTART_EVERY - 1)); then
		if ((restarts % 2)); then
			daemon_stop -KILL
			kills=$((kills + 1))
		else
			daemon_stop
		fi
		restarts=$((restarts + 1))
		daemon_start "${DAEMON_ARGS[@]}"
		lifetime=$((lifetime + 1))
		life_start=$(date +%s)
		rss_early[lifetime]=999999999
		rss_late[lifetime]=999999999
	fi
done
wait "$gen"
read -r _ ok _ fail _ q50 _ q99 _ qmax <"$BATS_FILE_TMPDIR/crr"
daemon_stop
sleep 6 # the last flows pass their closing timeouts
# kernel expiry would move the table between the reads below: one forced
# pass, then none
ctaccel_g expiry stop >/dev/null
ctaccel_g gc >/dev/null

st=$(ctaccel_g -j stats)
created=$(jq .counters.flows_created <<<"$st")
gauges=$(jq -c '.states | with_entries(select(.value != 0))' <<<"$st")
table=$(ctaccel_g -j flow show | jq -c 'group_by(.state) | map({(.[0].state): length}) | add // {}')
removed=$(jq '.counters | .flows_expired + .flows_reopened + .flows_killed + .flows_deleted' <<<"$st")
left=$(ctaccel_g -j flow count | jq .flows)

failed=0
check() {
	if eval "$2"; then echo "  ok   $1"; else echo "  FAIL $1"; failed=1; fi
}
echo
echo "Soak ($(date -u +%F), kernel $(uname -r), $(nproc) CPUs): $((SOAK_SECONDS / 60)) min," \
	"$ok connections ($((ok / SOAK_SECONDS))/s), $fail failed, connect p50 ${q50} us, p99 ${q99} us, max ${qmax} us"
echo "daemon: $restarts restarts ($kills by kill -9), $swaps policy swaps ($swap_fail refused)," \
	"$api_fail API reads failed (while restarting)"
echo "table: at most $max_flows of $MAX_FLOWS flows; $left left after the final GC;" \
	"GC removed $(jq .counters.flows_deleted <<<"$st"), table_full $(jq .counters.table_full <<<"$st")"
printf 'daemon RSS per lifetime, KiB (lowest in its middle third -> lowest in its last):'
grow=0
for ((i = 0; i < lifetime; i++)); do
	printf ' %s->%s' "${rss_early[i]}" "${rss_late[i]}"
	d=$((rss_late[i] - rss_early[i]))
	((d > grow)) && grow=$d
done
echo
echo "daemon RSS peak: $rss_peak KiB"
check "generator: no failed connection" "[[ $fail -eq 0 ]]"
check "table bounded: never above $MAX_FLOWS, no insert refused" \
	"[[ $max_flows -le $MAX_FLOWS && \$(jq .counters.table_full <<<'$st') -eq 0 ]]"
check "created flows ($created) = connection attempts ($((ok + fail)))" "[[ $created -eq $((ok + fail)) ]]"
check "gauges equal the table by state ($gauges)" "[[ '$gauges' == '$table' ]]"
check "present ($left) + removed ($removed) = created" "[[ $((left + removed)) -eq $created ]]"
check "daemon memory flat within each lifetime (largest growth $grow KiB <= 512)" "[[ $grow -le 512 ]]"
check "no failed policy swap" "[[ $swap_fail -eq 0 ]]"
exit $failed
