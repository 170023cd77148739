#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# The daemon: metrics, health, control API, adoption after a crash, GC, config errors.

load lib

PORT=9474

setup_file() {
	topo_names "dm$$"
	topo_up
	oracle_on
}

teardown_file() {
	topo_down
}

@test "metrics parse as Prometheus text and match ctaccel -j stats" {
	daemon_start
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 10 >/dev/null
	url "http://127.0.0.1:$PORT/metrics" >"$BATS_TEST_TMPDIR/m"
	# every sample line is NAME{LABELS} VALUE, every family has HELP and TYPE
	# (a histogram's samples are its family's _bucket, _sum and _count)
	run grep -Ev '^(# (HELP|TYPE) [a-z_]+ .+|[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+-]+)$' "$BATS_TEST_TMPDIR/m"
	[[ $status -eq 1 && -z $output ]]
	for fam in $(grep -Eo '^[a-z_]+' "$BATS_TEST_TMPDIR/m" | sort -u); do
		base=${fam%_bucket}
		base=${base%_sum}
		base=${base%_count}
		grep -q "^# TYPE $base histogram$" "$BATS_TEST_TMPDIR/m" && fam=$base
		grep -q "^# HELP $fam " "$BATS_TEST_TMPDIR/m"
		grep -q "^# TYPE $fam " "$BATS_TEST_TMPDIR/m"
	done
	# counters end in _total
	[[ -z $(grep '^# TYPE' "$BATS_TEST_TMPDIR/m" | awk '$4 == "counter" && $3 !~ /_total$/') ]]
	grep -q '^ctaccel_build_info{version="' "$BATS_TEST_TMPDIR/m"
	local st
	st=$(ctaccel_g -j stats)
	for s in TIME_WAIT ESTABLISHED CLOSE SYN_SENT; do
		[[ $(awk -v s="ctaccel_flows{state=\"$s\"}" '$1 == s {print $2}' "$BATS_TEST_TMPDIR/m") -eq $(echo "$st" | jq ".states.$s") ]]
	done
	[[ $(awk '$1 == "ctaccel_flows_created_total" {print $2}' "$BATS_TEST_TMPDIR/m") -eq $(echo "$st" | jq .counters.flows_created) ]]
	[[ $(awk '$1 == "ctaccel_table_capacity_flows" {print $2}' "$BATS_TEST_TMPDIR/m") -eq $(echo "$st" | jq .max_flows) ]]
	grep -q '^ctaccel_host_sockets{state="LISTEN"} ' "$BATS_TEST_TMPDIR/m"
}

@test "healthz and readyz answer; readyz fails when a device loses its programs" {
	# without repairs, which would put the programs back (faults.bats)
	daemon_stop
	daemon_start --repair-interval 0
	[[ $(url -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/healthz") == 200 ]]
	[[ $(url -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz") == 200 ]]
	ctaccel_g detach vgs
	[[ $(url -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz") == 503 ]]
	ctaccel_g attach vgs
	[[ $(url -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz") == 200 ]]
	url "http://127.0.0.1:$PORT/v1/status" | jq -e '.loaded and (.devices | length) == 2'
}

@test "PUT /v1/policy replaces the policy; a bad body changes nothing" {
	local code
	code=$(url -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -X PUT -d '{"rules":[{"prefix":"198.18.1.0/24","port":80},{"prefix":"2001:db8:1::/48","fastpath":true}]}' "http://127.0.0.1:$PORT/v1/policy")
	[[ $code == 200 ]]
	ctaccel_g -j policy show | jq -e 'length == 2'
	ctaccel_g -j policy show | jq -e '[.[] | select(.fastpath)] | length == 1 and .[0].prefix == "2001:db8:1::/48"'
	url "http://127.0.0.1:$PORT/v1/policy" | jq -e '[.rules[] | select(.fastpath == true)] | length == 1'
	for body in '{"rules":[{"prefix":"198.18.1.0/33"}]}' '{"rules":[{"prefix":"all","port":70000}]}' 'not json' '{"rulez":[]}' '{"rules":[{"prefix":"all","extra":1}]}' '{"rules":[{"prefix":"all","fastpath":1}]}'; do
		code=$(url -o "$BATS_TEST_TMPDIR/r" -w '%{http_code}' -H 'Content-Type: application/json' -X PUT -d "$body" "http://127.0.0.1:$PORT/v1/policy")
		[[ $code == 400 ]]
		jq -e .error "$BATS_TEST_TMPDIR/r"
	done
	ctaccel_g -j policy show | jq -e 'length == 2'
	head -c 300000 /dev/zero | tr '\0' ' ' >"$BATS_TEST_TMPDIR/big"
	# curl waits for the answer before sending a byte (an announced body
	# is refused unread); on its own it waits 1 s and then uploads, and a
	# loaded machine's answer can come mid-upload, which the close resets
	[[ $(url -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -H 'Expect: 100-continue' --expect100-timeout 30 -X PUT --data-binary @"$BATS_TEST_TMPDIR/big" "http://127.0.0.1:$PORT/v1/policy") == 413 ]]
	[[ $(url -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/nope") == 404 ]]
	[[ $(url -o /dev/null -w '%{http_code}' -X DELETE "http://127.0.0.1:$PORT/v1/policy") == 405 ]]
	[[ $(url -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -X PUT -d '{"rules":[]}' "http://127.0.0.1:$PORT/v1/policy") == 200 ]]
	ctaccel_g -j policy show | jq -e 'length == 0'
	url -H 'Content-Type: application/json' -X POST "http://127.0.0.1:$PORT/v1/gc" | jq -e 'has("scanned") and has("deleted")'
}

@test "a second daemon on the same state refuses" {
	run nsenter --net="/run/netns/$G" "$CTACCEL" daemon --pin-path "$PIN" --listen 127.0.0.1:9475
	[[ $status -ne 0 && $output == *"another ctaccel daemon"* ]]
}

@test "kill -9 under churn: tracking continues; a restart adopts flows and counters" {
	local created_before ids_before created_kill
	ids_before=$(ctaccel_g -j status | jq -c .programs)
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 8000 >"$BATS_TEST_TMPDIR/gen" 3>&- &
	local gen=$!
	sleep 0.3
	daemon_stop -KILL
	created_kill=$(ctaccel_g -j stats | jq .counters.flows_created)
	wait "$gen"
	grep -q "ok 8000 fail 0" "$BATS_TEST_TMPDIR/gen"
	# the datapath kept tracking without its daemon
	[[ $(ctaccel_g -j stats | jq .counters.flows_created) -gt $created_kill ]]
	equal_to_conntrack
	created_before=$(ctaccel_g -j stats | jq .counters.flows_created)
	daemon_start
	[[ $(ctaccel_g -j status | jq -c .programs) == "$ids_before" ]]
	[[ $(ctaccel_g -j stats | jq .counters.flows_created) -eq $created_before ]]
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 5 >/dev/null
	[[ $(ctaccel_g -j stats | jq .counters.flows_created) -eq $((created_before + 5)) ]]
	daemon_stop
	# SIGTERM leaves the datapath attached
	[[ -n $(hook_progs vgc ingress) ]]
}

@test "kernel expiry: expired flows go with no request, live ones stay, gauges equal the table" {
	ctaccel_g unload
	daemon_start --expiry-interval 1 --timeout-time-wait 1 --timeout-close 1 --timeout-syn-sent 1
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 o 2 8 >/dev/null 3>&- &
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 20 >/dev/null
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 r 5 >/dev/null
	local i m
	for i in $(seq 40); do
		[[ $(ctaccel_g -j flow count | jq .flows) -eq 2 ]] && break
		sleep 0.25
	done
	[[ $(ctaccel_g -j flow count | jq .flows) -eq 2 ]]
	[[ $(ctaccel_g -j flow show | jq '[.[] | select(.state == "ESTABLISHED")] | length') -eq 2 ]]
	[[ $(ctaccel_g -j stats | jq '[.states[]] | add') -eq 2 ]]
	# 20 closed and 5 reset flows expired: the kernel's passes removed
	# exactly those (no GC was asked for), and the daemon reports them
	[[ $(ctaccel_g -j stats | jq '.counters.flows_deleted + .counters.flows_expired') -eq 25 ]]
	m=$(url "http://127.0.0.1:$PORT/metrics")
	[[ $(awk '$1 == "ctaccel_expiry_removed_flows_total" {print $2}' <<<"$m") -eq \
		$(ctaccel_g -j stats | jq .counters.flows_deleted) ]]
	[[ $(awk '$1 == "ctaccel_gc_runs_total" {print $2}' <<<"$m") -eq 0 ]]
	[[ $(awk '$1 == "ctaccel_expiry_running" {print $2}' <<<"$m") -eq 1 ]]
	# the daemon set the least pause from --expiry-interval
	[[ $(ctaccel_g -j expiry | jq .interval_ms) -eq 1000 ]]
	daemon_stop
	wait || true
}

@test "kernel expiry stopped behind the daemon: reported, counted, started again" {
	daemon_start --expiry-interval 1 --repair-interval 1
	ctaccel_g expiry stop
	local i m
	# not running once a pause (1 s) and the margin (2 s) have gone by
	for i in $(seq 60); do
		m=$(url "http://127.0.0.1:$PORT/metrics")
		[[ $(awk '$1 == "ctaccel_expiry_stalls_total" {print $2}' <<<"$m") -ge 1 ]] && break
		sleep 0.2
	done
	[[ $(awk '$1 == "ctaccel_expiry_stalls_total" {print $2}' <<<"$m") -eq 1 ]]
	[[ $(awk '$1 == "ctaccel_repairs_total{what=\"expiry\"}" {print $2}' <<<"$m") -eq 1 ]]
	grep -q "kernel expiry was stopped ('ctaccel expiry stop'): no check for" \
		"$BATS_FILE_TMPDIR/daemon.log"
	# started again: passes come, status has no problem
	sleep 1.5
	ctaccel_g -j expiry | jq -e '.running and .since_last_check_seconds < 2'
	ctaccel_g -j status | jq -e '.problems == [] and .expiry.running'
	daemon_stop
}

@test "bad config: non-zero exit naming the line, nothing changed" {
	ctaccel_g unload
	printf '[ctaccel]\nlisten = 127.0.0.1:9476\nexpiry-interval = 5\nfrobnicate = 1\n' >"$BATS_TEST_TMPDIR/bad.conf"
	run nsenter --net="/run/netns/$G" "$CTACCEL" daemon --pin-path "$PIN" --config "$BATS_TEST_TMPDIR/bad.conf"
	[[ $status -ne 0 && $output == *"bad.conf:4"* && $output == *frobnicate* ]]
	printf '[ctaccel]\nmax-flows = lots\n' >"$BATS_TEST_TMPDIR/bad2.conf"
	run nsenter --net="/run/netns/$G" "$CTACCEL" daemon --pin-path "$PIN" --config "$BATS_TEST_TMPDIR/bad2.conf"
	[[ $status -ne 0 && $output == *"bad2.conf:2"* ]]
	# a line libinih refuses itself still gets a reason (found by fuzz_config)
	printf '[ctaccel]\nexpiry-interval = 5\ndevice\n' >"$BATS_TEST_TMPDIR/bad3.conf"
	run nsenter --net="/run/netns/$G" "$CTACCEL" daemon --pin-path "$PIN" --config "$BATS_TEST_TMPDIR/bad3.conf"
	[[ $status -ne 0 && $output == *"bad3.conf:3: not KEY = VALUE"* ]]
	run "$CTACCEL" daemon --config "$BATS_TEST_TMPDIR/bad3.conf" --check-config
	[[ $status -eq 2 && $output == *"bad3.conf:3"* ]]
	printf '[ctaccel]\nexpiry-interval = 5\n' >"$BATS_TEST_TMPDIR/good.conf"
	run "$CTACCEL" daemon --config "$BATS_TEST_TMPDIR/good.conf" --check-config
	[[ $status -eq 0 && $output == "configuration ok" ]]
	run nsenter --net="/run/netns/$G" "$CTACCEL" daemon --pin-path "$PIN" --devices nosuchdev0
	[[ $status -ne 0 && $output == *nosuchdev0* ]]
	# strict values: a boolean is one of eight words, a number decimal digits
	printf '[ctaccel]\ndetach-on-exit = on\ndetach-on-exit = maybe\n' >"$BATS_TEST_TMPDIR/bool.conf"
	run "$CTACCEL" daemon --config "$BATS_TEST_TMPDIR/bool.conf" --check-config
	[[ $status -eq 2 && $output == *"bool.conf:3: detach-on-exit 'maybe'"* ]]
	run "$CTACCEL" daemon --max-flows 0x10 --check-config
	[[ $status -eq 2 && $output == *"max-flows '0x10'"* ]]
	run "$CTACCEL" daemon --local maybe --check-config
	[[ $status -eq 2 ]]
	[[ ! -e $PIN ]]
}

@test "settings: older spellings of the file and the flags are read, each with a warning" {
	printf '[ctaccel]\ndevice = vgc\ngc_interval = 2\nmax_flows = 1024\ntimeout_TIME_WAIT = 30\ndetach_on_exit = yes\n' \
		>"$BATS_TEST_TMPDIR/old.conf"
	run "$CTACCEL" daemon --config "$BATS_TEST_TMPDIR/old.conf" --check-config --timeout CLOSE=5 --gc-interval 1
	[[ $status -eq 0 && ${lines[-1]} == "configuration ok" && $(grep -c "older spelling" <<<"$output") -eq 7 ]]
	for pair in "device:devices" "gc_interval:expiry-interval" "max_flows:max-flows" \
		"timeout_TIME_WAIT:timeout-time-wait" "detach_on_exit:detach-on-exit" \
		"--timeout:timeout-STATE" "--gc-interval:expiry-interval"; do
		grep -qF "'${pair%%:*}' is an older spelling of '${pair#*:}'" <<<"$output"
	done
	run "$CTACCEL" daemon --timeout-time-wait 30 --expiry-interval 0.5 --detach-on-exit --check-config
	[[ $status -eq 0 && $output == "configuration ok" ]]
}

@test "state of another layout is refused, and replaced with --migrate" {
	ctaccel_g unload
	mkdir -m 0700 "$PIN"
	bpftool map create "$PIN/ctaccel_flows" type hash key 40 value 64 entries 16 name ctaccel_flows
	run nsenter --net="/run/netns/$G" "$CTACCEL" daemon --pin-path "$PIN" --listen "127.0.0.1:$PORT"
	[[ $status -ne 0 && $output == *"incompatible layout"* && $output == *"--migrate"* ]]
	[[ $(bpftool -j map show pinned "$PIN/ctaccel_flows" | jq .bytes_value) -eq 64 ]]
	daemon_start --migrate
	[[ $(ctaccel_g -j status | jq .loaded) == true ]]
	grep -q migrating "$BATS_FILE_TMPDIR/daemon.log"
	daemon_stop
}

@test "SIGHUP applies a changed configuration; a unix socket API; sd_notify" {
	local conf="$BATS_TEST_TMPDIR/c.conf" sock="$BATS_TEST_TMPDIR/api.sock" pid i
	printf '[ctaccel]\ndevices = vgc vgs\nlisten = unix:%s\npin-path = %s\npolicy = 198.18.1.0/24 port 80\n' "$sock" "$PIN" >"$conf"
	# a notify socket that records what the daemon says
	/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); s.settimeout(10)
out = open(sys.argv[2], "w")
for _ in range(6):
    try:
        out.write(s.recv(4096).decode() + "\n"); out.flush()
    except socket.timeout:
        break
' "$BATS_TEST_TMPDIR/notify" "$BATS_TEST_TMPDIR/notified" 3>&- &
	sleep 0.3
	NOTIFY_SOCKET="$BATS_TEST_TMPDIR/notify" nsenter --net="/run/netns/$G" "$CTACCEL" daemon --config "$conf" >"$BATS_FILE_TMPDIR/daemon.log" 2>&1 3>&- &
	pid=$!
	for i in $(seq 50); do [[ -S $sock ]] && break; sleep 0.1; done
	[[ $(stat -c %a "$sock") == 600 ]]
	curl -s --unix-socket "$sock" http://x/healthz | grep -q ok
	ctaccel_g -j policy show | jq -e 'length == 1 and .[0].port == 80'
	printf 'policy = 2001:db8:1::/48\npolicy = all port 443\n' >>"$conf"
	kill -HUP "$pid"
	for i in $(seq 30); do
		[[ $(ctaccel_g -j policy show | jq length) -eq 4 ]] && break
		sleep 0.1
	done
	ctaccel_g -j policy show | jq -e 'length == 4'
	grep -q "reloaded configuration" "$BATS_FILE_TMPDIR/daemon.log"
	# GET /v1/config: the settings in force, by their one spelling
	curl -s --unix-socket "$sock" http://x/v1/config >"$BATS_TEST_TMPDIR/config.json"
	jq -e '.settings.devices == ["vgc", "vgs"] and (.settings.policy | length) == 3 and
		.settings["http-rate"] == 50 and .settings["timeout-time-wait"] == 120 and
		.settings["detach-on-exit"] == false and (.live | index("policy")) != null and
		(.live | index("pin-path")) == null' "$BATS_TEST_TMPDIR/config.json"
	# a live setting is applied; one that is not is logged and keeps its value
	# (an http-rate this test's own requests stay under on a fast machine:
	# at 7/s a quick run met 429s)
	sed -i "s|^pin-path = .*|pin-path = /sys/fs/bpf/ctaccel-elsewhere|" "$conf"
	printf 'repair-interval = 2\nhttp-rate = 700\ntimeout-close-wait = 45\n' >>"$conf"
	kill -HUP "$pid"
	for i in $(seq 300); do
		[[ $(grep -c "reloaded configuration" "$BATS_FILE_TMPDIR/daemon.log") -eq 2 ]] && break
		sleep 0.1
	done
	# a timeout is words of a map, which the started daemon (without
	# CAP_PERFMON) writes: applied live, and no problem
	grep -q "reload: timeout-close-wait 60 -> 45, applied live (flows kept)" "$BATS_FILE_TMPDIR/daemon.log"
	grep -q "reloaded configuration, but for pin-path (not applied" "$BATS_FILE_TMPDIR/daemon.log"
	curl -s --unix-socket "$sock" http://x/v1/status |
		jq -e '.timeouts.CLOSE_WAIT == 45 and ([.problems[] | select(contains("timeout"))] | length) == 0'
	[[ $(ctaccel_g -j status | jq .timeouts.CLOSE_WAIT) -eq 45 ]]
	grep -q "reload: pin-path $PIN -> /sys/fs/bpf/ctaccel-elsewhere not applied: it takes a restart" \
		"$BATS_FILE_TMPDIR/daemon.log"
	grep -q "reloaded configuration, but for pin-path" "$BATS_FILE_TMPDIR/daemon.log"
	curl -s --unix-socket "$sock" http://x/v1/config |
		jq -e --arg p "$PIN" '.settings["pin-path"] == $p and .settings["http-rate"] == 700 and .settings["repair-interval"] == 2'
	# PUT /v1/config: the live load settings on the running state, as
	# `ctaccel set` changes them; all of a request, or nothing
	put_config() {
		curl -s -o "$BATS_TEST_TMPDIR/put.json" -w '%{http_code}' --unix-socket "$sock" \
			-X PUT -H 'Content-Type: application/json' -d "$1" http://x/v1/config
	}
	[[ $(put_config '{"settings": {"timeout-time-wait": 33, "expiry-interval": 2.5}}') == 200 ]]
	jq -e '[.changes[] | select(.applied)] | map(.key) | sort == ["expiry-interval", "timeout-time-wait"]' "$BATS_TEST_TMPDIR/put.json"
	ctaccel_g -j status | jq -e '.timeouts.TIME_WAIT == 33 and .expiry.interval_ms == 2500'
	grep -q "api: timeout-time-wait 120 -> 33, applied live (flows kept)" "$BATS_FILE_TMPDIR/daemon.log"
	curl -s --unix-socket "$sock" http://x/v1/config | jq -e '.settings["timeout-time-wait"] == 33'
	# the mark with local on: the host's sockets walked by the iterator the
	# daemon keeps loaded (it may load no program now), and back
	[[ $(put_config '{"settings": {"mark": "0x2000000/0x2000000"}}') == 200 ]]
	ctaccel_g -j status | jq -e '.mark == "0x02000000/0x02000000" and .local'
	grep -q "api: mark 0x1000000/0x1000000 -> 0x2000000/0x2000000, applied live (flows kept)" "$BATS_FILE_TMPDIR/daemon.log"
	[[ $(put_config '{"settings": {"mark": "0x1000000/0x1000000"}}') == 200 ]]
	ctaccel_g -j status | jq -e '.mark == "0x01000000/0x01000000"'
	# a UDP socket the policy marked (all port 443) holds it: 409, and why
	udp_bound 198.18.0.1 443
	[[ $(put_config '{"settings": {"timeout-time-wait": 44, "mark": "0x2000000/0x2000000"}}') == 409 ]]
	grep -q "not applied: Device or resource busy (the daemon's log says why)" "$BATS_TEST_TMPDIR/put.json"
	grep -q "1 UDP socket holds the mark 0x1000000/0x1000000" "$BATS_FILE_TMPDIR/daemon.log"
	kill "$UDP_PID"
	ctaccel_g -j status | jq -e '.mark == "0x01000000/0x01000000" and .timeouts.TIME_WAIT == 33'
	# a size (a started daemon loads no program), a daemon setting: 409
	# and why; nothing of the request applied
	[[ $(put_config '{"settings": {"timeout-time-wait": 44, "max-flows": 1024}}') == 409 ]]
	grep -q "max-flows 262144 -> 1024 cannot change now: a migration of the table loads programs" "$BATS_TEST_TMPDIR/put.json"
	[[ $(put_config '{"settings": {"http-rate": 9}}') == 409 ]]
	grep -q "http-rate is the daemon's own setting" "$BATS_TEST_TMPDIR/put.json"
	# a wrong key, value or body: 400, nothing applied
	[[ $(put_config '{"settings": {"timeout-time-wait": 44, "timeout-nope": 1}}') == 400 ]]
	grep -q "no setting timeout-nope" "$BATS_TEST_TMPDIR/put.json"
	[[ $(put_config '{"settings": {"timeout-time-wait": 0}}') == 400 ]]
	[[ $(put_config '{"timeout-time-wait": 44}') == 400 ]]
	ctaccel_g -j status | jq -e '.timeouts.TIME_WAIT == 33 and .timeouts.CLOSE_WAIT == 45'
	# the two timeouts' lines and the two marks', nothing of the refusals
	[[ $(grep -c "api: " "$BATS_FILE_TMPDIR/daemon.log") -eq 4 ]]
	kill -TERM "$pid"
	wait "$pid"
	[[ ! -e $sock ]]
	wait || true
	grep -q "READY=1" "$BATS_TEST_TMPDIR/notified"
	grep -q "STOPPING=1" "$BATS_TEST_TMPDIR/notified"
}

@test "adopted state with other settings: the live ones applied (flows kept), the others logged and shown as problems" {
	local hold before
	ctaccel_g unload force
	ctaccel_g load max-flows 2048 timeout-established 77 local off
	ctaccel_g attach vgc vgs
	in_ns "$C" "$TCPGEN" client 198.18.1.2 80 o 2 60 >/dev/null 3>&- &
	hold=$!
	wait_until 100 '[[ $(ctaccel_g -j flow show state ESTABLISHED | jq length) -eq 2 ]]'
	before=$(ctaccel_flows)
	daemon_start --timeout-time-wait 30
	grep -q "config: timeout-established 77 -> 432000, applied live (flows kept)" "$BATS_FILE_TMPDIR/daemon.log"
	grep -q "config: timeout-time-wait 120 -> 30, applied live (flows kept)" "$BATS_FILE_TMPDIR/daemon.log"
	# the table migrated to the configuration's size, every flow kept
	grep -q "config: max-flows 2048 -> 262144, applied live (flows kept)" "$BATS_FILE_TMPDIR/daemon.log"
	grep -q "config: local off -> on not applied: it takes a new load" "$BATS_FILE_TMPDIR/daemon.log"
	http /v1/status | jq -e '.timeouts.ESTABLISHED == 432000 and .timeouts.TIME_WAIT == 30 and
		.max_flows == 262144 and
		any(.problems[]; contains("local on is not in force: the state keeps off"))'
	[[ $(ctaccel_flows) == "$before" ]]
	# the migration, in the metrics: completed, none begun and not completed
	url "http://127.0.0.1:$PORT/metrics" >"$BATS_TEST_TMPDIR/m"
	grep -qx 'ctaccel_migrations_total{outcome="completed"} 1' "$BATS_TEST_TMPDIR/m"
	grep -qx 'ctaccel_migrations_total{outcome="not_completed"} 0' "$BATS_TEST_TMPDIR/m"
	grep -qx 'ctaccel_flows_migrated_total 2' "$BATS_TEST_TMPDIR/m"
	awk '$1 == "ctaccel_migration_seconds_total" {exit !($2 > 0)}' "$BATS_TEST_TMPDIR/m"
	daemon_stop
	kill "$hold"
	wait "$hold" || true
	ctaccel_g unload force
}

@test "unload is refused while the daemon runs; forced, the daemon stops being ready and re-attaches nothing" {
	daemon_start --repair-interval 1
	local pid
	pid=$(cat "$BATS_FILE_TMPDIR/daemon.pid")
	run ctaccel_g unload
	[[ $status -eq 1 && $output == *"daemon (pid "*")"*"unload force"* ]]
	[[ -e $PIN/ctaccel_flows && -n $(hook_progs vgc ingress) ]]
	[[ $(url -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz") == 200 ]]
	ctaccel_g unload force
	[[ ! -e $PIN/ctaccel_flows ]]
	sleep 2.5 # two repair passes
	[[ $(url -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/readyz") == 503 ]]
	[[ -z $(hook_progs vgc ingress) ]]
	[[ -z $(hook_progs vgs ingress) ]]
	grep -q "pinned state in $PIN is gone: not ready" "$BATS_FILE_TMPDIR/daemon.log"
	daemon_stop
	[[ ! -e $PIN ]]
}
