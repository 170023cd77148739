#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# The CLI and the daemon as clients of libctaccel: the defects the first wave
# shipped (argv as the internal API, state in globals), one test each.

load lib

PORT=9479

setup_file() {
	topo_names "lb$$"
	topo_up
}

teardown_file() {
	topo_down
}

teardown() {
	# a lock holder of a failed test
	pkill -f "flock $PIN" 2>/dev/null || true
	pkill -f 'flock /sys/fs/bpf sleep' 2>/dev/null || true
	daemon_teardown
}

@test "ctaccel --pin-path DIR daemon adopts and reports DIR, not the default" {
	local before after
	before=$(stat -c %i /sys/fs/bpf/ctaccel 2>/dev/null || echo none)
	nsenter --net="/run/netns/$G" "$CTACCEL" --pin-path "$PIN" daemon --devices vgc \
		--listen "127.0.0.1:$PORT" >"$BATS_FILE_TMPDIR/daemon.log" 2>&1 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/daemon.pid"
	for i in $(seq 50); do http -o /dev/null /healthz && break; sleep 0.1; done
	http /v1/status | jq -e --arg p "$PIN" '.pin_path == $p and (.devices | length) == 1'
	ctaccel_g -j status | jq -e '.devices[0].name == "vgc" and .devices[0].ingress'
	after=$(stat -c %i /sys/fs/bpf/ctaccel 2>/dev/null || echo none)
	[[ $before == "$after" ]]
}

@test "text status prints the problems that -j status lists" {
	ctaccel_g attach vgc
	ctaccel_g policy add 198.18.1.0/24
	in_ns "$G" nft delete table inet ctaccel
	ctaccel_g -j status | jq -e '.problems | length == 1'
	run ctaccel_g status
	[[ $status -eq 0 ]]
	[[ $output == *"problem"*"nft table inet ctaccel is missing"* ]]
}

@test "detach of a missing device names detach" {
	run ctaccel_g detach nosuchdev0
	[[ $status -eq 1 ]]
	[[ $output == "ctaccel: detach nosuchdev0: No such device" ]]
}

@test "policy add echoes the rule as stored: host bits cleared" {
	ctaccel_g load
	run ctaccel_g policy add 198.18.1.5/24 port 80
	[[ $status -eq 0 && $output == "policy added 198.18.1.0/24 port 80" ]]
	ctaccel_g -j policy show | jq -e '.[0].prefix == "198.18.1.0/24" and .[0].port == 80'
	run ctaccel_g policy del 198.18.1.5/24 port 80
	[[ $status -eq 0 && $output == "policy deleted 198.18.1.0/24 port 80" ]]
}

@test "help and usage errors: one message each, the right words" {
	run "$CTACCEL" daemon -h
	[[ $status -eq 0 && $output == "Usage: ctaccel daemon "* ]]
	run "$CTACCEL" daemon --check-config --help
	[[ $status -eq 0 && $output == "Usage: ctaccel daemon "* ]]
	run ctaccel_g flow bogus
	[[ $status -eq 2 && $output == "ctaccel: flow: unexpected 'bogus'" ]]
	run ctaccel_g flow state
	[[ $status -eq 2 && $output == "ctaccel: flow: 'state' needs a value" ]]
	run "$CTACCEL" daemon --devices
	[[ $status -eq 2 && ${#lines[@]} -eq 1 && $output == *"--devices"*"needs a value"* ]]
	run "$CTACCEL" daemon --frobnicate
	[[ $status -eq 2 && ${#lines[@]} -eq 1 && $output == *"--frobnicate"* ]]
	# a bad config value: one message, and one JSON document under -j
	run "$CTACCEL" -j daemon --max-flows lots --check-config
	[[ $status -eq 2 && ${#lines[@]} -eq 1 ]]
	run ctaccel_g -j load max-flows 0
	[[ $status -eq 2 && ${#lines[@]} -eq 1 ]]
	jq -e '.error | test("max-flows")' <<<"$output"
}

@test "the lock is per pin directory: another root's holder never blocks us" {
	local t0 t1 holder
	# someone holds the bpffs root (the lock of the first wave): no effect
	flock /sys/fs/bpf sleep 10 3>&- &
	holder=$!
	sleep 0.3
	run timeout 5 nsenter --net="/run/netns/$G" "$CTACCEL" --pin-path "$PIN" load
	kill "$holder" 2>/dev/null || true
	wait || true
	[[ $status -eq 0 ]]
	# the holder of this root's lock is waited for
	flock "$PIN" sleep 2 3>&- &
	sleep 0.3
	t0=$(date +%s%N)
	ctaccel_g policy add 198.18.1.0/24
	t1=$(date +%s%N)
	wait || true
	((t1 - t0 > 1000000000))
}

@test "attaching again prints only what happened (no libbpf noise)" {
	ctaccel_g attach vgc
	run ctaccel_g attach vgc
	[[ $status -eq 0 && $output == "attached vgc (ingress, egress)" ]]
}
