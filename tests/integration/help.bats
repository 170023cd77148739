#!/usr/bin/env bats
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# The bash completion (scripts/ctaccel.bash-completion) and the man page
# against the binary's own tables: every object of `ctaccel help`, every
# keyword of each object's usage, every setting of `ctaccel load help` and
# `ctaccel daemon help`, and every state `ctaccel flow help` names. Nothing
# is listed here by hand.

load lib

setup() {
	# bash-completion's helpers, as much of them as the function uses
	_init_completion() {
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
	}
	_filedir() { :; }
	complete() { :; }
	# shellcheck source=/dev/null
	source "$ROOT/scripts/ctaccel.bash-completion"
}

# What completing the word after WORDS... offers, a word a line.
offered() {
	local COMP_WORDS COMP_CWORD COMPREPLY=()
	COMP_WORDS=(ctaccel "$@" "")
	COMP_CWORD=$(($# + 1))
	_ctaccel
	printf '%s\n' "${COMPREPLY[@]}"
}

# Each word of LIST (a word a line) is among those offered after WORDS...
offers_all() {
	local list=$1 word missing=""
	shift
	for word in $list; do
		grep -qxF -- "$word" <<<"$(offered "$@")" || missing+=" $word"
	done
	if [[ -n $missing ]]; then
		echo "ctaccel $* <TAB> lacks:$missing" >&2
		return 1
	fi
}

# The objects of the command table, from `ctaccel help`.
objects() {
	"$CTACCEL" help | sed -n 's/^\(Usage:\)\? *ctaccel \([a-z]\+\).*/\2/p' | sort -u
}

# The keywords of an object's usage lines (not its metavariables, not the
# notes in parentheses).
keywords() {
	"$CTACCEL" "$1" help | grep -E '^(Usage:)? +ctaccel ' | sed 's/([^)]*)//g' |
		tr ' |[]' '\n' | grep -E '^-{0,2}[a-z][a-z0-9-]*$' | grep -vxE "ctaccel|$1" | sort -u
}

# The keys of a settings table in `ctaccel OBJECT help`.
setting_keys() {
	"$CTACCEL" "$1" help | sed -n 's/^  \([a-z][a-z0-9-]*\)  .*/\1/p' | grep -vx KEY | sort -u
}

@test "every object of the command table is offered" {
	[[ $(objects | wc -l) -ge 17 ]]
	offers_all "$(objects)"
}

@test "every keyword of every object's usage is offered after it" {
	local obj n=0
	for obj in $(objects); do
		[[ $obj == attach || $obj == detach ]] && continue # devices, from the system
		offers_all "$(keywords "$obj")" "$obj"
		n=$((n + $(keywords "$obj" | wc -l)))
	done
	[[ $n -ge 40 ]]
}

@test "every setting is offered: load's words, the daemon's flags" {
	[[ $(setting_keys load | wc -l) -ge 19 ]]
	offers_all "$(setting_keys load)" load
	[[ $(setting_keys daemon | wc -l) -gt $(setting_keys load | wc -l) ]]
	offers_all "$(setting_keys daemon | sed 's/^/--/')" daemon
}

@test "every state is offered after state, for flow and monitor" {
	local states
	states=$("$CTACCEL" flow help | sed -n 's/^STATE, as conntrack prints it: //p' | tr ' ' '\n')
	[[ $(wc -l <<<"$states") -eq 12 ]]
	offers_all "$states" flow state
	offers_all "$states" monitor state
	offers_all "tcp udp" monitor proto
}

# The rows of a settings table (timeout-STATE once), from `ctaccel OBJECT help`.
setting_rows() {
	"$CTACCEL" "$1" help | sed -n 's/^  \([a-z][a-zA-Z-]*\): .*/\1/p' | sort -u
}

# The settings the man page's SETTINGS section documents, a .TP entry each.
man_settings() {
	sed -n '/^\.SH SETTINGS/,/^\.SH /p' "$ROOT/docs/ctaccel.8" | grep -A1 '^\.TP' |
		sed -n 's/^\.B[IR] \([a-zA-Z\\-]*\).*/\1/p' | sed 's/\\-/-/g; s/-$/-STATE/' | sort
}

@test "the man page documents every setting once, by its one spelling" {
	local want got
	want=$( (setting_rows load && setting_rows daemon) | sort -u)
	got=$(man_settings)
	[[ $(wc -l <<<"$want") -ge 14 ]]
	diff <(echo "$want") <(echo "$got")
	grep -q '^ctaccel \\- eBPF TCP and UDP' "$ROOT/docs/ctaccel.8"
}
