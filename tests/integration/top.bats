#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# ctaccel top, as a person uses it (full screen under tmux: keys, a resize, q)
# and as a script does (-j lines), while traffic runs through the gateway.

load lib

setup_file() {
	topo_names "tp$$"
	topo_up
	export TMUX_SESSION="ctacc-top-$$"
}

teardown_file() {
	topo_down
}

setup() {
	ctaccel_g load local off >/dev/null
	ctaccel_g attach vgc vgs >/dev/null
}

teardown() {
	tmux kill-session -t "$TMUX_SESSION" 2>/dev/null || true
	ctaccel_g unload force >/dev/null 2>&1 || true
}

pane() { tmux capture-pane -p -t "$TMUX_SESSION"; }

# Wait up to 5 s for the pane to show $1.
pane_shows() {
	local i
	for i in $(seq 50); do
		pane | grep -q -- "$1" && return 0
		sleep 0.1
	done
	pane >&2
	return 1
}

@test "-j top: one object per interval with states and rates; the busiest flow is the busy one" {
	local lines stop=$BATS_TEST_TMPDIR/stop
	in_ns "$C" "$OUT/rr" 198.18.1.2 80 4 1 >/dev/null &
	# Connections opened in every interval, however fast the machine: paced
	# runs until top is done (one run of 4000 ends in about half a second,
	# and on CI ended before top's first interval); at most 8000, inside the client's
	# ephemeral ports.
	(for _ in $(seq 80); do
		[[ -e $stop ]] && break
		in_ns "$C" "$TCPGEN" client 198.18.1.2 80 c 100 >/dev/null
		sleep 0.05
	done) &
	sleep 0.3
	lines=$(ctaccel_g -j top interval 1 count 3)
	touch "$stop"
	wait
	[[ $(wc -l <<<"$lines") -eq 3 ]]
	jq -e '.states | keys | length == 12' <<<"$lines" # nine TCP states, three UDP
	jq -e '.rates | has("flows_created") and has("table_full") and has("invalid")' <<<"$lines"
	jq -se 'all(.[]; .rates.flows_created > 0)' <<<"$lines"
	jq -se '.[0].busiest[0] | .dport == 80 and .state == "ESTABLISHED" and .packets_per_s > 1000' <<<"$lines"
	# at rest, the states are the table's, exactly
	[[ "$(ctaccel_g -j top interval 0.2 count 1 | jq -cS .states)" == "$(ctaccel_g -j stats | jq -cS .states)" ]]
	run ctaccel_g top interval 0
	[[ $status -eq 2 && $output == *"interval 0.1 to 3600"* ]]
}

@test "full screen under tmux: refreshes, sorts on a key, redraws on a resize, q restores the terminal" {
	tmux new-session -d -s "$TMUX_SESSION" -x 180 -y 50 bash --norc
	tmux send-keys -t "$TMUX_SESSION" \
		"nsenter --net=/run/netns/$G $CTACCEL --pin-path $PIN top interval 0.3" Enter
	in_ns "$C" "$OUT/rr" 198.18.1.2 80 4 1 >/dev/null &
	pane_shows "BUSIEST FLOWS by packets/s"
	pane_shows "ESTABLISHED"
	[[ $(tmux display -p -t "$TMUX_SESSION" '#{alternate_on}') == 1 ]]
	tmux send-keys -t "$TMUX_SESSION" b
	pane_shows "BUSIEST FLOWS by bytes/s"
	tmux resize-window -t "$TMUX_SESSION" -x 90 -y 20
	sleep 0.8
	# redrawn for the new size: nothing wider than the window, the header kept
	pane_shows "ctaccel top"
	[[ $(pane | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }') -le 90 ]]
	tmux send-keys -t "$TMUX_SESSION" q
	wait
	for _ in $(seq 30); do
		[[ $(tmux display -p -t "$TMUX_SESSION" '#{pane_current_command}') == bash ]] && break
		sleep 0.1
	done
	[[ $(tmux display -p -t "$TMUX_SESSION" '#{alternate_on}') == 0 ]]
	# the terminal is back in canonical mode with echo
	tmux send-keys -t "$TMUX_SESSION" "stty -a > $BATS_TEST_TMPDIR/stty" Enter
	sleep 0.5
	grep -qw icanon "$BATS_TEST_TMPDIR/stty"
	grep -qw echo "$BATS_TEST_TMPDIR/stty"
}
