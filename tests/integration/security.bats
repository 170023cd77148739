#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# Security: who can reach the pins and the control API, what the daemon keeps
# of root's powers, and the limits on what a client can send.

load lib

PORT=9494
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)

setup_file() {
	topo_names "sc$$"
	topo_up
}

teardown_file() {
	topo_down
}

teardown() {
	[[ -f $BATS_FILE_TMPDIR/daemon.pid ]] && daemon_stop -KILL
	rm -f "$BATS_FILE_TMPDIR/daemon.pid"
	ctaccel_g unload >/dev/null 2>&1 || true
}

@test "pins: root-owned, 0600 in a 0700 directory; nobody else can list, read, write or remove them" {
	ctaccel_g load >/dev/null
	[[ $(stat -c '%a %U' "$PIN") == "700 root" ]]
	local f
	for f in "$PIN"/*; do
		[[ $(stat -c '%a %U' "$f") == "600 root" ]] || { echo "$f: $(stat -c '%a %U' "$f")"; false; }
	done
	run "${NOBODY[@]}" ls "$PIN"
	[[ $status -ne 0 ]]
	run "${NOBODY[@]}" bpftool map dump pinned "$PIN/ctaccel_flows"
	[[ $status -ne 0 ]]
	run "${NOBODY[@]}" bpftool map update pinned "$PIN/ctaccel_ifaces" key 1 0 0 0 value 1 0 0 0 0 0 0 0
	[[ $status -ne 0 ]]
	run "${NOBODY[@]}" rm -f "$PIN/ctaccel_flows"
	[[ -e $PIN/ctaccel_flows ]]
	[[ $(bpftool map dump pinned "$PIN/ctaccel_ifaces" | grep -c key) -eq 0 ]]
}

@test "the daemon listens on 127.0.0.1 unless told otherwise" {
	nsenter --net="/run/netns/$G" "$CTACCEL" daemon --pin-path "$PIN" --devices vgc \
		>"$BATS_FILE_TMPDIR/daemon.log" 2>&1 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/daemon.pid"
	local i
	for i in $(seq 50); do
		in_ns "$G" ss -Hltn | grep -q ':9474 ' && break
		sleep 0.1
	done
	[[ $(in_ns "$G" ss -Hltn | awk '{print $4}' | grep ':9474$') == "127.0.0.1:9474" ]]
	# not reachable from the client namespace, through the gateway's address
	run in_ns "$C" curl -s --max-time 2 http://198.18.0.1:9474/healthz
	[[ $status -ne 0 ]]
}

@test "a unix-socket API is 0600: another user cannot connect" {
	local sock="$BATS_TEST_TMPDIR/api.sock"
	chmod 755 "$BATS_TEST_TMPDIR"
	nsenter --net="/run/netns/$G" "$CTACCEL" daemon --pin-path "$PIN" --devices vgc \
		--listen "unix:$sock" >"$BATS_FILE_TMPDIR/daemon.log" 2>&1 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/daemon.pid"
	local i
	for i in $(seq 50); do [[ -S $sock ]] && break; sleep 0.1; done
	[[ $(stat -c '%a %U' "$sock") == "600 root" ]]
	curl -s --unix-socket "$sock" http://x/healthz | grep -q ok
	run "${NOBODY[@]}" curl -s --max-time 2 --unix-socket "$sock" http://x/healthz
	[[ $status -ne 0 && $output != *ok* ]]
}

@test "with a control socket, only it changes anything: the TCP listener answers 403, counted" {
	local sock="$BATS_TEST_TMPDIR/control.sock"
	daemon_start --control-listen "unix:$sock"
	[[ $(stat -c '%a %U' "$sock") == "600 root" ]]
	[[ $(url -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -X PUT -d '{"rules":[{"prefix":"all"}]}' "http://127.0.0.1:$PORT/v1/policy") == 403 ]]
	[[ $(url -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -X POST "http://127.0.0.1:$PORT/v1/gc") == 403 ]]
	[[ $(ctaccel_g -j policy show | jq length) -eq 0 ]]
	# reads stay on TCP; changes go through the socket
	[[ $(url -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v1/policy") == 200 ]]
	[[ $(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$sock" -H 'Content-Type: application/json' -X PUT -d '{"rules":[{"prefix":"all"}]}' http://x/v1/policy) == 200 ]]
	[[ $(ctaccel_g -j policy show | jq length) -eq 2 ]]
	[[ $(url "http://127.0.0.1:$PORT/metrics" | awk '$1 == "ctaccel_http_requests_total{outcome=\"forbidden\"}" {print $2}') -eq 2 ]]
	daemon_stop
	[[ ! -e $sock ]]
}

@test "the daemon keeps only CAP_NET_ADMIN and CAP_BPF, with no_new_privs, and still does its job" {
	daemon_start --policy all
	local pid
	pid=$(cat "$BATS_FILE_TMPDIR/daemon.pid")
	# nsenter execs the daemon: the pid is the daemon's
	[[ $(awk '/^CapEff/ {print $2}' "/proc/$pid/status") == 0000008000001000 ]]
	[[ $(awk '/^CapPrm/ {print $2}' "/proc/$pid/status") == 0000008000001000 ]]
	[[ $(awk '/^CapBnd/ {print $2}' "/proc/$pid/status") == 0000008000001000 ]]
	[[ $(awk '/^CapInh/ {print $2}' "/proc/$pid/status") == 0000000000000000 ]]
	[[ $(awk '/^NoNewPrivs/ {print $2}' "/proc/$pid/status") == 1 ]]
	# what it serves needs nothing more
	[[ $(url -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -X PUT -d '{"rules":[{"prefix":"198.18.1.0/24","port":80}]}' "http://127.0.0.1:$PORT/v1/policy") == 200 ]]
	url "http://127.0.0.1:$PORT/v1/policy" | jq -e '.rules | length == 1'
	url "http://127.0.0.1:$PORT/v1/status" | jq -e '.loaded and (.problems | length) == 0'
	url "http://127.0.0.1:$PORT/metrics" | grep -q '^ctaccel_host_sockets{state="LISTEN"} [1-9]'
	[[ $(url -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -X POST "http://127.0.0.1:$PORT/v1/gc") == 200 ]]
	# and a reload (SIGHUP) runs with what is left
	kill -HUP "$pid"
	sleep 0.5
	kill -0 "$pid"
}

@test "ctaccel flow and stats drop every capability once the pins are open" {
	ctaccel_g load >/dev/null
	local cmd
	for cmd in "flow show" "flow count" "stats"; do
		run strace -f -e trace=capset,prctl nsenter --net="/run/netns/$G" "$CTACCEL" --pin-path "$PIN" -j $cmd
		[[ $status -eq 0 ]]
		[[ $output == *"capset("*"effective=0, permitted=0, inheritable=0}) = 0"* ]]
		[[ $output == *"PR_SET_NO_NEW_PRIVS, 1"* ]]
	done
}

@test "HTTP limits: a body over 256 KiB gets 413, a flood gets 429s, counted exactly; /healthz always answers" {
	daemon_start --http-rate 5
	sleep 1.2 # the bucket is full after the start-up probes
	local i code c429=0 c200=0
	for i in $(seq 40); do
		code=$(url -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v1/status")
		case $code in
		429) c429=$((c429 + 1)) ;;
		200) c200=$((c200 + 1)) ;;
		*) false ;;
		esac
	done
	[[ $c429 -gt 0 && $c200 -ge 5 ]]
	for i in $(seq 20); do
		[[ $(url -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz") == 200 ]]
	done
	head -c 300000 /dev/zero | tr '\0' ' ' >"$BATS_TEST_TMPDIR/big"
	sleep 1.2
	# curl waits for the answer before sending a byte (an announced body
	# is refused unread); on its own it waits 1 s and then uploads, and a
	# loaded machine's answer can come mid-upload, which the close resets
	[[ $(url -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -H 'Expect: 100-continue' --expect100-timeout 30 -X PUT --data-binary @"$BATS_TEST_TMPDIR/big" "http://127.0.0.1:$PORT/v1/policy") == 413 ]]
	sleep 1.2
	url "http://127.0.0.1:$PORT/metrics" >"$BATS_TEST_TMPDIR/m"
	[[ $(awk '$1 == "ctaccel_http_requests_total{outcome=\"rate_limited\"}" {print $2}' "$BATS_TEST_TMPDIR/m") -eq $c429 ]]
	[[ $(awk '$1 == "ctaccel_http_requests_total{outcome=\"too_large\"}" {print $2}' "$BATS_TEST_TMPDIR/m") -eq 1 ]]
	echo "# 40 requests at once: $c200 served, $c429 refused (limit 5/s)" >&3
}

@test "no shell-outs: the sources run no other program" {
	cd "$ROOT"
	run grep -nE '\b(system|popen|execl|execlp|execle|execv|execvp|execvpe|posix_spawnp?|fork|vfork)[[:space:]]*\(' user/*/*.c user/*/*.h
	[[ $status -eq 1 ]] || { echo "$output"; false; }
	run grep -n '/bin/sh' user/*/*.c
	[[ $status -eq 1 ]]
}
