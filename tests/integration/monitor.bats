#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# ctaccel monitor: flow events one for one with what `stats` counts, and a
# reader that falls behind is told exactly how many events it missed.

load lib

setup_file() {
	topo_names "mo$$"
	topo_up
}

teardown_file() {
	topo_down
}

setup() {
	# short timeouts: the flows of the mix end within the test, in GC
	ctaccel_g load local off timeout-time-wait 1 timeout-close 1 timeout-syn-sent 1 \
		timeout-fin-wait 1 timeout-last-ack 1 timeout-close-wait 1 >/dev/null
	ctaccel_g attach vgc vgs >/dev/null
}

teardown() {
	pkill -INT -f -- "--pin-path $PIN .*monitor" 2>/dev/null || true
	ctaccel_g unload force >/dev/null 2>&1 || true
}

counter() { jq ".counters.$2" "$1"; }

# The monitor in the background, its output in $1.
monitor_start() {
	ctaccel_g -j monitor >"$1" 2>"$1.err" &
	sleep 0.5
}

monitor_stop() {
	sleep 1 # it drains what is left in the ring
	pkill -INT -f -- "--pin-path $PIN .*monitor"
	wait
}

@test "events of every ending of a connection equal, one for one, what stats counts" {
	local ev="$BATS_TEST_TMPDIR/ev" s0="$BATS_TEST_TMPDIR/s0" s1="$BATS_TEST_TMPDIR/s1"
	ctaccel_g -j stats >"$s0"
	monitor_start "$ev"
	traffic_mix 198.18.1.2
	traffic_mix 2001:db8:1::2
	sleep 1.5
	ctaccel_g gc >/dev/null # every flow of the mix has expired: DESTROY, expired
	monitor_stop
	ctaccel_g -j stats >"$s1"
	delta() { echo $(($(counter "$s1" "$1") - $(counter "$s0" "$1"))); }
	[[ $(delta flows_created) -gt 0 ]]
	[[ $(jq -s '[.[] | select(.event == "NEW")] | length' "$ev") -eq $(delta flows_created) ]]
	[[ $(jq -s '[.[] | select(.event == "UPDATE")] | length' "$ev") -eq $(delta transitions) ]]
	[[ $(jq -s '[.[] | select(.event == "DESTROY" and .reason == "killed")] | length' "$ev") -eq \
		$(delta flows_killed) ]]
	[[ $(jq -s '[.[] | select(.event == "DESTROY" and .reason == "expired")] | length' "$ev") -eq \
		$(($(delta flows_expired) + $(delta flows_deleted))) ]]
	[[ $(delta flows_killed) -gt 0 && $(delta flows_deleted) -gt 0 ]]
	[[ $(jq -s '[.[] | select(.event == "LOST")] | length' "$ev") -eq 0 ]]
	[[ $(delta events_lost) -eq 0 ]]
	# the flows all went: every NEW has its DESTROY
	[[ $(jq -s '[.[] | select(.event == "NEW")] | length' "$ev") -eq \
		$(jq -s '[.[] | select(.event == "DESTROY")] | length' "$ev") ]]
	[[ $(ctaccel_g -j flow count | jq .flows) -eq 0 ]]
}

@test "a reader that falls behind: received + lost = every event, lost as counted" {
	local ev="$BATS_TEST_TMPDIR/ev" s0="$BATS_TEST_TMPDIR/s0" s1="$BATS_TEST_TMPDIR/s1" total
	ctaccel_g -j stats >"$s0"
	# the pipe and then the ring fill while the reader sleeps
	(ctaccel_g -j monitor | (sleep 4 && cat >"$ev")) &
	sleep 0.5
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 2000 | grep -q "ok 2000 fail 0"
	sleep 5
	pkill -INT -f -- "--pin-path $PIN .*monitor"
	wait
	ctaccel_g -j stats >"$s1"
	delta() { echo $(($(counter "$s1" "$1") - $(counter "$s0" "$1"))); }
	total=$(($(delta flows_created) + $(delta transitions) + $(delta flows_expired) + \
		$(delta flows_reopened) + $(delta flows_killed) + $(delta flows_deleted) + \
		$(delta unreplied_evicted)))
	lost=$(jq -s '[.[] | select(.event == "LOST") | .lost] | max // 0' "$ev")
	echo "events $total, received $(jq -s '[.[] | select(.event != "LOST")] | length' "$ev"), lost $lost"
	((lost > 0))
	[[ $lost -eq $(delta events_lost) ]]
	[[ $(($(jq -s '[.[] | select(.event != "LOST")] | length' "$ev") + lost)) -eq $total ]]
}

@test "count N stops after N events; filters; one reader per state" {
	local out
	out=$(timeout 20 nsenter --net="/run/netns/$G" "$CTACCEL" --pin-path "$PIN" -j monitor count 3 port 80 &
		sleep 0.5
		in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 5 >/dev/null
		wait)
	[[ $(wc -l <<<"$out") -eq 3 ]]
	jq -e 'select(.dport == 80) | has("event") and has("family") and has("src") and has("sport") and has("dst") and has("state")' <<<"$out"
	monitor_start "$BATS_TEST_TMPDIR/first"
	run ctaccel_g monitor
	[[ $status -eq 1 && $output == *"another monitor is reading its events"* ]]
	monitor_stop
}
