#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# The daemon as a privileged node agent tried as an attacker on the node or
# the network would (docs/SECURITY.md lists each threat with its test here):
# what every thread holds, how numbers parse, what signals do while the main
# thread is busy, which answers a held lock may delay, what a reload does with
# the listeners, slow clients, floods, forged requests from a browser, where
# unix sockets go, the watchdog, the log's priorities and the capabilities the
# manifest grants.

load lib

PORT=9496

setup_file() {
	topo_names "ag$$"
	topo_up
}

teardown_file() {
	topo_down
}

teardown() {
	local pid
	for pid in $(cat "$BATS_TEST_TMPDIR"/holder.pid 2>/dev/null); do
		kill "$pid" 2>/dev/null || true
	done
	[[ -f $BATS_FILE_TMPDIR/daemon.pid ]] && daemon_stop -KILL
	rm -f "$BATS_FILE_TMPDIR/daemon.pid"
	ctaccel_g unload force >/dev/null 2>&1 || true
	[[ -z ${SCRATCH:-} ]] || rm -rf "$SCRATCH"
}

daemon_pid() { cat "$BATS_FILE_TMPDIR/daemon.pid"; }

# hold_lock SECONDS: another ctaccel's change to the state (what `ctaccel
# replace` or a CLI policy change holds), in the background until teardown.
hold_lock() {
	flock "$PIN" sleep "$1" 3>&- &
	echo $! >>"$BATS_TEST_TMPDIR/holder.pid"
	wait_until 100 '! flock -n "$PIN" true'
}

release_lock() {
	local pid
	for pid in $(cat "$BATS_TEST_TMPDIR"/holder.pid); do
		pkill -P "$pid" sleep 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	rm -f "$BATS_TEST_TMPDIR/holder.pid"
}

# metric NAME: a sample's value from /metrics.
metric() {
	url "http://127.0.0.1:$PORT/metrics" | awk -v n="$1" '$1 == n {print $2}'
}

# outcome NAME FILE: ctaccel_http_requests_total{outcome=NAME} in a saved
# scrape ($BATS_TEST_TMPDIR/FILE).
outcome() {
	awk -v n="ctaccel_http_requests_total{outcome=\"$1\"}" '$1 == n {print $2}' "$BATS_TEST_TMPDIR/$2"
}

# sock_code SOCKET [CURL OPTIONS] PATH: the status of a request on a unix socket.
sock_code() {
	local sock=$1
	shift
	curl -s --max-time 5 -o /dev/null -w '%{http_code}' --unix-socket "$sock" "${@:1:$#-1}" \
		"http://ctaccel${*: -1}"
}

# A field of a thread's status, as /proc prints it.
task_field() { awk -v f="$2:" '$1 == f {print $2}' "$1/status"; }

@test "1: every thread drops what it must: the HTTP threads hold no capability, all have no_new_privs" {
	local sock="$BATS_TEST_TMPDIR/control.sock" pid t name eff prm nnp n0=0 nfull=0
	daemon_start --control-listen "unix:$sock"
	pid=$(daemon_pid)
	# a connection held open: its thread exists while this is checked
	nsenter --net="/run/netns/$G" bash -c "exec 5<>/dev/tcp/127.0.0.1/$PORT; printf 'GET /healthz HTTP/1.1\r\n' >&5; sleep 4" 3>&- &
	echo $! >>"$BATS_TEST_TMPDIR/holder.pid"
	wait_until 50 'grep -q "^Name:.*MHD-connection" /proc/$pid/task/*/status 2>/dev/null'
	for t in /proc/"$pid"/task/*; do
		name=$(task_field "$t" Name)
		eff=$(task_field "$t" CapEff)
		prm=$(task_field "$t" CapPrm)
		nnp=$(task_field "$t" NoNewPrivs)
		echo "$name CapEff $eff CapPrm $prm NoNewPrivs $nnp"
		# nothing permitted beyond what is effective, no way back by exec; an
		# HTTP thread's bounding set is the main thread's (dropping from it
		# took CAP_SETPCAP, gone by then), which no_new_privs makes moot
		[[ $nnp == 1 && $prm == "$eff" ]]
		[[ $(task_field "$t" CapBnd) == 0000008000001000 ]]
		[[ $(task_field "$t" CapInh) == 0000000000000000 && $(task_field "$t" CapAmb) == 0000000000000000 ]]
		case $name in
		MHD-*)
			[[ $eff == 0000000000000000 ]]
			n0=$((n0 + 1))
			;;
		*)
			# the main thread and the two workers that run handlers; any
			# other thread of the daemon holds nothing
			if [[ $eff == 0000008000001000 ]]; then
				nfull=$((nfull + 1))
			else
				[[ $eff == 0000000000000000 ]]
			fi
			;;
		esac
	done
	# two listeners' threads and the held connection's, without anything
	[[ $n0 -ge 3 ]]
	# main, the read worker and the change worker
	[[ $nfull -eq 3 ]]
}

@test "2: numbers are decimal digits only: argv, the config file and a PUT's JSON prefix" {
	ctaccel_g load >/dev/null
	ctaccel_g policy add 10.1.2.0/024 port 0443
	[[ $(ctaccel_g -j policy show | jq -r '.[0] | "\(.prefix) \(.port)"') == "10.1.2.0/24 443" ]]
	ctaccel_g policy flush >/dev/null
	local bad
	for bad in "198.18.1.0/+24" "198.18.1.0/-8" "198.18.1.0/0x18" "198.18.1.0/ 24" "198.18.1.0/24 port 0x50" \
		"198.18.1.0/24 port +80" "198.18.1.0/24 port -1" "198.18.1.0/24 port 8e1" "198.18.1.0/33"; do
		# shellcheck disable=SC2086 # the words of a rule
		run ctaccel_g policy add $bad
		[[ $status -ne 0 ]] || { echo "accepted: $bad"; false; }
	done
	[[ $(ctaccel_g -j policy show | jq length) -eq 0 ]]
	# the config file's numbers
	local conf="$BATS_TEST_TMPDIR/c.conf"
	printf '[ctaccel]\nhttp-rate = 0x10\n' >"$conf"
	run "$CTACCEL" daemon --config "$conf" --check-config
	[[ $status -eq 2 && $output == *"c.conf:2: http-rate '0x10': not a number from 0 to 100000" ]]
	printf '[ctaccel]\npolicy = 10.1.2.0/024 port 0443\nhttp-rate = 010\n' >"$conf"
	daemon_start --config "$conf"
	http /v1/policy | jq -e '[.rules[] | [.prefix, .port]] == [["10.1.2.0/24", 443]]'
	http /v1/config | jq -e '.settings["http-rate"] == 10'
	# a PUT's JSON prefix
	[[ $(url -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -X PUT \
		-d '{"rules":[{"prefix":"198.18.1.0/+24"}]}' "http://127.0.0.1:$PORT/v1/policy") == 400 ]]
	[[ $(url -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -X PUT \
		-d '{"rules":[{"prefix":"198.18.4.0/022"}]}' "http://127.0.0.1:$PORT/v1/policy") == 200 ]]
	http /v1/policy | jq -e '.rules[0].prefix == "198.18.4.0/22"'
}

@test "3: a signal storm while the main thread is busy: every SIGHUP waits, SIGTERM exits cleanly" {
	local sock="$BATS_TEST_TMPDIR/control.sock" pid i rc
	daemon_start --control-listen "unix:$sock" --detach-on-exit yes
	pid=$(daemon_pid)
	[[ -n $(hook_progs vgc ingress) ]]
	hold_lock 60
	# the main thread takes the first SIGHUP and waits in its reload for the lock
	kill -HUP "$pid"
	wait_until 100 '[[ $(task_field /proc/$pid ShdPnd) == 0000000000000000 ]]'
	# a storm while it waits: HUPs, then TERM, each to the whole process
	for i in $(seq 50); do kill -HUP "$pid"; done
	kill -INT "$pid"
	kill -TERM "$pid"
	# pending for the main thread, not taken by any other thread's default action
	wait_until 100 '(($((16#$(task_field /proc/$pid ShdPnd))) & (1 << 14)))'
	kill -0 "$pid"
	# every thread blocks them
	for t in /proc/"$pid"/task/*; do
		((($((16#$(task_field "$t" SigBlk))) & 0x4003) == 0x4003))
	done
	release_lock
	# the reload ends, then the exit: status 0, the socket gone, the devices
	# detached (detach-on-exit)
	rc=0
	wait "$pid" || rc=$?
	rm -f "$BATS_FILE_TMPDIR/daemon.pid"
	cat "$BATS_FILE_TMPDIR/daemon.log"
	[[ $rc -eq 0 ]]
	[[ ! -e $sock ]]
	[[ -z $(hook_progs vgc ingress) ]]
	grep -q 'reloaded configuration' "$BATS_FILE_TMPDIR/daemon.log"
}

@test "4: a held lock delays no probe: /healthz within 100 ms, /readyz and /metrics answer" {
	daemon_start --repair-interval 1
	hold_lock 30
	local i t code
	# a repair pass (every second) finds the lock held meanwhile
	for i in $(seq 5); do
		url -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$PORT/metrics" >"$BATS_TEST_TMPDIR/m"
		[[ $(cat "$BATS_TEST_TMPDIR/m") == 200 ]]
		read -r code t < <(url -o /dev/null -w '%{http_code} %{time_total}\n' "http://127.0.0.1:$PORT/healthz")
		echo "healthz $code in $t s"
		[[ $code == 200 ]] && awk -v t="$t" 'BEGIN { exit !(t <= 0.1) }'
		[[ $(url -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz") == 200 ]]
		sleep 0.3
	done
	# a change that needs the lock says so instead of hanging
	local put=(-H 'Content-Type: application/json' -X PUT -d '{"rules":[{"prefix":"all"}]}' "http://127.0.0.1:$PORT/v1/policy")
	[[ $(url -o /dev/null -w '%{http_code}' --max-time 15 "${put[@]}") == 503 ]]
	release_lock
	[[ $(url -o /dev/null -w '%{http_code}' "${put[@]}") == 200 ]]
}

@test "4: changes queued behind a held lock and answered 503 are never run later" {
	local sock="$BATS_TEST_TMPDIR/control.sock" n code body notrun=0 pids=() maybe=()
	daemon_start --control-listen "unix:$sock"
	hold_lock 90
	# eight changes at once: each waits 5 s for the lock in turn, and the
	# ones still queued when their 30 s are up are answered without running
	for n in $(seq 8); do
		curl -s --max-time 60 -o "$BATS_TEST_TMPDIR/put$n" -w '%{http_code}' --unix-socket "$sock" \
			-H 'Content-Type: application/json' -X PUT \
			-d "{\"rules\":[{\"prefix\":\"198.18.$n.0/24\"}]}" http://ctaccel/v1/policy \
			>"$BATS_TEST_TMPDIR/code$n" &
		pids+=($!)
	done
	wait "${pids[@]}"
	for n in $(seq 8); do
		code=$(cat "$BATS_TEST_TMPDIR/code$n")
		body=$(cat "$BATS_TEST_TMPDIR/put$n")
		echo "$n: $code $body"
		[[ $code == 503 ]]
		[[ $body != *"was not run"* ]] || notrun=$((notrun + 1))
		# one that had started when its wait ended says it may still complete
		[[ $body != *"may still complete"* ]] || maybe+=("198.18.$n.0/24")
	done
	[[ $notrun -ge 1 ]]
	release_lock
	# a change after them: the worker takes its jobs in order, so every one
	# queued before was run or dropped by the time this is answered
	[[ $(sock_code "$sock" -H 'Content-Type: application/json' -X POST /v1/gc) == 200 ]]
	# nothing changed, or what a "may still complete" answer announced
	local now
	now=$(ctaccel_g -j policy show | jq -r '[.[].prefix] | unique | join(" ")')
	echo "policy now: '$now'; may still complete: ${maybe[*]}"
	[[ -z $now || " ${maybe[*]} " == *" $now "* ]]
}

@test "5: --policy of 250 spaces and more is read whole, and one longer than a line is refused" {
	local pad long
	pad=$(printf '%250s' '')
	run "$CTACCEL" daemon --policy "198.18.0.0/16${pad}port 443" --check-config
	[[ $status -eq 0 && $output == "configuration ok" ]]
	daemon_start --policy "198.18.0.0/16${pad}port 443"
	http /v1/policy | jq -e '[.rules[] | [.prefix, .port]] == [["198.18.0.0/16", 443]]'
	long=$(printf '%600s' '')
	run "$CTACCEL" daemon --policy "198.18.0.0/16${long}port 443" --check-config
	[[ $status -eq 2 && $output == *"policy '198.18.0.0/16"*"...' is longer than 511 characters" ]]
}

@test "6: SIGHUP moves the listener and adds the control socket, or keeps them and says why" {
	local conf="$BATS_TEST_TMPDIR/c.conf" sock="$BATS_TEST_TMPDIR/control.sock" pid i
	printf '[ctaccel]\nlisten = 127.0.0.1:%s\n' "$PORT" >"$conf"
	# the listener from the file alone (daemon_start's --listen would win)
	nsenter --net="/run/netns/$G" "$CTACCEL" daemon --pin-path "$PIN" --devices vgc --config "$conf" \
		>"$BATS_FILE_TMPDIR/daemon.log" 2>&1 3>&- &
	pid=$!
	echo $pid >"$BATS_FILE_TMPDIR/daemon.pid"
	wait_until 100 'http -o /dev/null /healthz'
	printf '[ctaccel]\nlisten = 127.0.0.1:%s\ncontrol-listen = unix:%s\n' $((PORT + 1)) "$sock" >"$conf"
	kill -HUP "$pid"
	wait_until 100 '[[ -S $sock ]] && url -o /dev/null "http://127.0.0.1:$((PORT + 1))/healthz"'
	[[ $(url -o /dev/null -w '%{http_code}' "http://127.0.0.1:$((PORT + 1))/healthz") == 200 ]]
	run url -o /dev/null "http://127.0.0.1:$PORT/healthz"
	[[ $status -eq 7 ]] # the old port is closed
	# writes moved to the socket
	[[ $(url -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -X POST "http://127.0.0.1:$((PORT + 1))/v1/gc") == 403 ]]
	[[ $(sock_code "$sock" -H 'Content-Type: application/json' -X POST /v1/gc) == 200 ]]
	grep -q 'reloaded configuration$' "$BATS_FILE_TMPDIR/daemon.log"
	# a port another socket holds: refused, logged, the old listener kept
	nsenter --net="/run/netns/$G" python3 -c 'import socket, time; s = socket.socket(); s.bind(("127.0.0.1", int(__import__("sys").argv[1]))); s.listen(); time.sleep(30)' $((PORT + 2)) 3>&- &
	echo $! >>"$BATS_TEST_TMPDIR/holder.pid"
	wait_until 50 'in_ns "$G" ss -Hltn | grep -q ":$((PORT + 2)) "'
	printf '[ctaccel]\nlisten = 127.0.0.1:%s\ncontrol-listen = unix:%s\n' $((PORT + 2)) "$sock" >"$conf"
	kill -HUP "$pid"
	wait_until 100 'grep -q "reloaded configuration, but for listen" "$BATS_FILE_TMPDIR/daemon.log"'
	grep -q "reload: listen 127.0.0.1:$((PORT + 2)): Address already in use: the listeners stay on 127.0.0.1:$((PORT + 1))" "$BATS_FILE_TMPDIR/daemon.log"
	grep -q 'reloaded configuration, but for listen (not applied: see above)' "$BATS_FILE_TMPDIR/daemon.log"
	[[ $(url -o /dev/null -w '%{http_code}' "http://127.0.0.1:$((PORT + 1))/healthz") == 200 ]]
	[[ -S $sock ]]
	# and the daemon reports what it serves on
	http() { nsenter --net="/run/netns/$G" curl -sf --max-time 5 "http://127.0.0.1:$((PORT + 1))$1"; }
	http /v1/config | jq -e --arg l "127.0.0.1:$((PORT + 1))" '.settings.listen == $l'
}

@test "7: a slow-client flood from four addresses holds no probe, scrape or control request" {
	local sock="$BATS_TEST_TMPDIR/control.sock" i code
	daemon_start --control-listen "unix:$sock"
	# 4 addresses x 16 connections, each sending a request line a byte at a
	# time (bounded: 20 s)
	nsenter --net="/run/netns/$G" python3 - "$PORT" >"$BATS_TEST_TMPDIR/flood.out" 2>&1 3>&- <<-'PYEOF' &
		import socket, sys, time
		port = int(sys.argv[1])
		socks = []
		for a in range(2, 6):
		    for i in range(16):
		        s = socket.socket()
		        s.bind(("127.0.0.%d" % a, 0))
		        try:
		            s.connect(("127.0.0.1", port))
		            socks.append(s)
		        except OSError:
		            pass
		print("connected", len(socks), flush=True)
		end = time.time() + 20
		while time.time() < end and socks:
		    for s in list(socks):
		        try:
		            s.send(b"G")
		        except OSError:
		            socks.remove(s)
		    time.sleep(1)
		print("open at the end", len(socks), flush=True)
	PYEOF
	echo $! >>"$BATS_TEST_TMPDIR/holder.pid"
	wait_until 100 'grep -q connected "$BATS_TEST_TMPDIR/flood.out"'
	# while the flood holds its connections: probes, a scrape, a change
	for i in $(seq 10); do
		[[ $(url -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/healthz") == 200 ]]
		[[ $(url -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$PORT/readyz") == 200 ]]
		sleep 0.2
	done
	[[ $(url -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/metrics") == 200 ]]
	[[ $(sock_code "$sock" -H 'Content-Type: application/json' -X PUT -d '{"rules":[{"prefix":"all"}]}' /v1/policy) == 200 ]]
	# no connection outlives the request deadline: the flood's are closed
	wait_until 200 '[[ $(metric ctaccel_http_slow_connections_closed_total) -ge 8 ]]' ||
		cat "$BATS_TEST_TMPDIR/flood.out"
	[[ $(metric ctaccel_http_slow_connections_closed_total) -ge 8 ]]
	# a body over the limit is refused from its Content-Length, unread, and
	# counted as that outcome alone (the scrape after it is the one more
	# served)
	url "http://127.0.0.1:$PORT/metrics" >"$BATS_TEST_TMPDIR/before"
	code=$(nsenter --net="/run/netns/$G" python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"PUT /v1/policy HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{")
print(s.recv(100).split()[1].decode())' "$PORT")
	[[ $code == 413 ]]
	url "http://127.0.0.1:$PORT/metrics" >"$BATS_TEST_TMPDIR/after"
	local o want
	for o in served too_large rate_limited not_found forbidden misdirected wrong_type timed_out; do
		want=0
		[[ $o == served || $o == too_large ]] && want=1
		[[ $(($(outcome "$o" after) - $(outcome "$o" before))) -eq $want ]] || {
			echo "$o: $(outcome "$o" before) -> $(outcome "$o" after)"
			false
		}
	done
}

@test "8: each listener has its own rate: a flood on the read port starves neither the control socket nor /readyz" {
	local sock="$BATS_TEST_TMPDIR/control.sock" args=() i try t0 t1 out limited before
	local name='ctaccel_http_requests_total{outcome="rate_limited"}'
	# the control socket has its own bucket: the counter is read there
	limited_total() {
		curl -s --max-time 5 --unix-socket "$sock" http://ctaccel/metrics | awk -v n="$name" '$1 == n {print $2}'
	}
	daemon_start --control-listen "unix:$sock" --http-rate 5
	before=$(limited_total)
	for i in $(seq 40); do args+=(-o /dev/null "http://127.0.0.1:$PORT/nosuch"); done
	for i in $(seq 20); do args+=(-o /dev/null "http://127.0.0.1:$PORT/v1/status"); done
	# Sixty requests from one client process take a fraction of a second.
	# The bucket (a burst of 5, then 5 a second) lets at most 5 + 5 x the
	# elapsed seconds through, whatever it held; within 2 s that is at most
	# 15 of them, so some of the 20 reads are refused too. A machine that
	# stalled the flood for longer tries again, at most five times.
	for try in 1 2 3 4 5; do
		t0=$(date +%s%N)
		out=$(nsenter --net="/run/netns/$G" curl -s --max-time 60 -w '%{url_effective} %{http_code}\n' "${args[@]}" |
			sed "s|^http://127.0.0.1:$PORT/||")
		t1=$(date +%s%N)
		[[ $(wc -l <<<"$out") -eq 60 ]]
		[[ $(grep -cvE '^(nosuch (404|429)|v1/status (200|429))$' <<<"$out") -eq 0 ]]
		limited=$(grep -c ' 429$' <<<"$out")
		[[ $((60 - limited)) -le $((5 + (5 * (t1 - t0) + 999999999) / 1000000000)) ]]
		[[ $before =~ ^[0-9]+$ ]]
		# each refusal counted once, exactly
		[[ $(limited_total) -eq $((before + limited)) ]]
		before=$((before + limited))
		((t1 - t0 <= 2000000000)) && break
	done
	((t1 - t0 <= 2000000000))
	[[ $(grep -c '^v1/status 429$' <<<"$out") -ge 1 ]]
	# probes are never limited, and the control socket's bucket is its own
	[[ $(url -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz") == 200 ]]
	[[ $(sock_code "$sock" -H 'Content-Type: application/json' -X PUT -d '{"rules":[{"prefix":"all"}]}' /v1/policy) == 200 ]]
	[[ $(ctaccel_g -j policy show | jq length) -eq 2 ]]
}

@test "9: a browser's forged change is refused: a rebinding Host (421), an Origin (403), a simple request's type (415)" {
	daemon_start
	local put=(-X PUT -d '{"rules":[{"prefix":"all"}]}' "http://127.0.0.1:$PORT/v1/policy")
	# DNS rebinding: the page's own name in Host, the daemon's address underneath
	[[ $(url -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -H "Host: rebind.example:$PORT" "${put[@]}") == 421 ]]
	# a cross-origin request carries Origin
	[[ $(url -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -H 'Origin: http://evil.example' "${put[@]}") == 403 ]]
	# a CORS simple request (no preflight) cannot send application/json
	[[ $(url -o /dev/null -w '%{http_code}' -H 'Content-Type: text/plain' -X POST "http://127.0.0.1:$PORT/v1/gc") == 415 ]]
	[[ $(url -o /dev/null -w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded' "${put[@]}") == 415 ]]
	[[ $(ctaccel_g -j policy show | jq length) -eq 0 ]]
	# the daemon's own names pass
	[[ $(url -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -H "Host: localhost:$PORT" "${put[@]}") == 200 ]]
	[[ $(url -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json; charset=utf-8' "${put[@]}") == 200 ]]
	[[ $(metric 'ctaccel_http_requests_total{outcome="misdirected"}') -eq 1 ]]
	[[ $(metric 'ctaccel_http_requests_total{outcome="forbidden"}') -eq 1 ]]
	[[ $(metric 'ctaccel_http_requests_total{outcome="wrong_type"}') -eq 2 ]]
	# reads are not changes: a page may not read them either (no CORS header)
	[[ -z $(url -sI -H 'Origin: http://evil.example' "http://127.0.0.1:$PORT/v1/status" | grep -i '^access-control') ]]
}

@test "10: a unix socket goes only where nobody else can swap it, and is 0600 or 0660 as told" {
	SCRATCH=$(mktemp -d /run/ctaccel-test-ag.XXXXXX)
	chmod 0755 "$SCRATCH"
	local d
	# a regular file at the path: refused, and kept; by --check-config
	# already, and by a daemon that starts anyway
	mkdir -m 0700 "$SCRATCH/own"
	echo keep >"$SCRATCH/own/control.sock"
	run "$CTACCEL" daemon --control-listen "unix:$SCRATCH/own/control.sock" --check-config
	[[ $status -eq 2 && $output == *"something else is there"* ]]
	[[ $(cat "$SCRATCH/own/control.sock") == keep ]]
	# a directory others may write, even sticky, or a link to a directory
	mkdir "$SCRATCH/open" "$SCRATCH/sticky" && chmod 0777 "$SCRATCH/open" && chmod 1777 "$SCRATCH/sticky"
	ln -s "$SCRATCH/own" "$SCRATCH/link"
	for d in open sticky link; do
		run "$CTACCEL" daemon --control-listen "unix:$SCRATCH/$d/control.sock" --check-config
		[[ $status -eq 2 && $output == *"$SCRATCH/$d must be a directory (not a link) of this user's that nobody else may write"* ]]
	done
	[[ $(cat "$SCRATCH/own/control.sock") == keep && ! -e $SCRATCH/open/control.sock ]]
	# a missing directory is made 0750, the socket 0600: nobody else connects
	rm "$SCRATCH/own/control.sock"
	daemon_start --control-listen "unix:$SCRATCH/new/control.sock"
	[[ $(stat -c '%a %U' "$SCRATCH/new") == "750 root" ]]
	[[ $(stat -c '%a %U' "$SCRATCH/new/control.sock") == "600 root" ]]
	run setpriv --reuid=65532 --regid=65532 --clear-groups curl -s --max-time 5 --unix-socket "$SCRATCH/new/control.sock" http://ctaccel/healthz
	[[ $status -eq 7 ]]
	daemon_stop
	rm -f "$BATS_FILE_TMPDIR/daemon.pid"
	# unix-group-access, as the manifest's pod: its fsGroup's setgid
	# directory, the sidecar in that group and no other user
	mkdir "$SCRATCH/pod" && chgrp 65532 "$SCRATCH/pod" && chmod 2775 "$SCRATCH/pod"
	daemon_start --control-listen "unix:$SCRATCH/pod/api/control.sock" --unix-group-access yes
	[[ $(stat -c '%a %U %g' "$SCRATCH/pod/api/control.sock") == "660 root 65532" ]]
	[[ $(setpriv --reuid=65532 --regid=65532 --clear-groups curl -s --max-time 5 -o /dev/null -w '%{http_code}' \
		--unix-socket "$SCRATCH/pod/api/control.sock" -H 'Content-Type: application/json' -X PUT \
		-d '{"rules":[{"prefix":"all"}]}' http://ctaccel/v1/policy) == 200 ]]
	run setpriv --reuid=65533 --regid=65533 --clear-groups curl -s --max-time 5 --unix-socket "$SCRATCH/pod/api/control.sock" http://ctaccel/healthz
	[[ $status -eq 7 ]]
}

@test "11: the daemon runs with the manifest's capabilities alone, and feeds systemd's watchdog" {
	local caps pid i
	caps=$(/usr/bin/python3 -c 'import sys, yaml; d = [x for x in yaml.safe_load_all(open(sys.argv[1])) if x["kind"] == "DaemonSet"][0]; c = [c for c in d["spec"]["template"]["spec"]["containers"] if c["name"] == "ctaccel"][0]; print(",".join("+" + x.lower() for x in c["securityContext"]["capabilities"]["add"]))' "$ROOT/deploy/k8s/ctaccel.yaml")
	[[ $caps == +bpf,+net_admin,+perfmon ]]
	# systemd's notify socket, read by a listener bounded in time
	nsenter --net="/run/netns/$G" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(1)
end = time.time() + 30
while time.time() < end:
    try:
        print(s.recv(4096).decode().strip(), flush=True)
    except socket.timeout:
        pass' "$BATS_TEST_TMPDIR/notify" >"$BATS_TEST_TMPDIR/notify.out" 3>&- &
	echo $! >>"$BATS_TEST_TMPDIR/holder.pid"
	wait_until 50 '[[ -S $BATS_TEST_TMPDIR/notify ]]'
	# allowPrivilegeEscalation: false is no_new_privs
	nsenter --net="/run/netns/$G" env NOTIFY_SOCKET="$BATS_TEST_TMPDIR/notify" WATCHDOG_USEC=1000000 \
		setpriv --inh-caps=-all --bounding-set="-all,$caps" --no-new-privs \
		"$CTACCEL" daemon --pin-path "$PIN" --devices vgc --devices vgs --listen "127.0.0.1:$PORT" \
		--policy "198.18.1.0/24 port 80" >"$BATS_FILE_TMPDIR/daemon.log" 2>&1 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/daemon.pid"
	wait_until 100 'http -o /dev/null /readyz' || cat "$BATS_FILE_TMPDIR/daemon.log"
	[[ $(url -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz") == 200 ]]
	# it tracks, bypasses and counts the host's sockets
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 5 >/dev/null
	[[ $(ctaccel_g -j flow count | jq '.flows') -ge 5 ]]
	http /metrics | grep -q '^ctaccel_host_sockets{state="LISTEN"} [1-9]'
	# READY=1, then WATCHDOG=1 every half second
	wait_until 100 '[[ $(grep -c "^WATCHDOG=1\$" "$BATS_TEST_TMPDIR/notify.out") -ge 3 ]]' ||
		cat "$BATS_TEST_TMPDIR/notify.out"
	grep -q '^READY=1' "$BATS_TEST_TMPDIR/notify.out"
	[[ $(grep -c '^WATCHDOG=1$' "$BATS_TEST_TMPDIR/notify.out") -ge 3 ]]
}

@test "12: log lines carry their level for the journal: <3> errors, <4> warnings, <6> the rest" {
	local conf="$BATS_TEST_TMPDIR/c.conf" line i
	# an older spelling (warning), and the daemon's own news (info)
	printf '[ctaccel]\ngc_interval = 2\n' >"$conf"
	JOURNAL_STREAM=0:0 daemon_start --config "$conf"
	# a second daemon on the same pins is refused (error)
	run env JOURNAL_STREAM=0:0 nsenter --net="/run/netns/$G" "$CTACCEL" daemon --pin-path "$PIN" --devices vgc --listen "127.0.0.1:$((PORT + 1))"
	echo "$output"
	[[ $status -ne 0 ]]
	while IFS= read -r line; do
		[[ $line == "<3>ctaccel: "* ]] || { echo "not <3>: $line"; false; }
	done <<<"$output"
	cat "$BATS_FILE_TMPDIR/daemon.log"
	grep -q '^<4>ctaccel: .*gc_interval' "$BATS_FILE_TMPDIR/daemon.log"
	grep -q '^<6>ctaccel: running' "$BATS_FILE_TMPDIR/daemon.log"
	# a reload that cannot apply a setting: an error, and a warning that says so
	printf '[ctaccel]\nrepair-interval = 2\nmax-flows = 1024\n' >"$conf"
	kill -HUP "$(daemon_pid)"
	wait_until 100 'grep -q "reloaded configuration" "$BATS_FILE_TMPDIR/daemon.log"'
	grep -q "^<3>ctaccel: reload: max-flows 262144 -> 1024 not applied: a migration of the table loads programs, which the daemon may not once started (CAP_PERFMON, given up): a restart of the daemon migrates it (flows kept)$" "$BATS_FILE_TMPDIR/daemon.log"
	# unreplied-max is auto: it follows max-flows, and is not applied either
	grep -q '^<4>ctaccel: reloaded configuration, but for max-flows, unreplied-max (not applied: see above)$' "$BATS_FILE_TMPDIR/daemon.log"
	# without the journal, plain lines
	daemon_stop
	rm -f "$BATS_FILE_TMPDIR/daemon.pid"
	daemon_start
	grep -q '^ctaccel: running' "$BATS_FILE_TMPDIR/daemon.log"
}
