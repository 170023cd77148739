#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
# make check: the static checks of docs/checks.md, in TAP. Each rule runs over
# the product and must find nothing, then over its bad example under
# tests/check/ and must report exactly the lines marked "expect: RULE" there,
# so that a check that cannot fail shows up as a failure.
set -u
cd "$(dirname "$0")/../.."
OUT=${OUTPUT:-.output}
CHK=scripts/check
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
BPF_CFLAGS=(-g -O2 -target bpf -D__TARGET_ARCH_x86 -mcpu=v3 -Wall -Werror -I include -I . -I bpf)
USER_INC=(-I include -I "$OUT" -I user/lib -I user/json -I user/daemon -I user/cli)
export CHECK_DIR=$CHK CHECK_USER_LIB=user/lib

n=0
failed=0
result() { # result OK|FAIL DESCRIPTION [DETAIL FILE]
	n=$((n + 1))
	if [[ $1 == OK ]]; then
		echo "ok $n $2"
	else
		failed=$((failed + 1))
		echo "not ok $n $2"
		[[ -n ${3:-} ]] && sed 's/^/# /' "$3"
	fi
}

# spatch sees libbpf's BPF_PROG(name, args) as a function called BPF_PROG:
# the copies it reads have `name(args)` instead, on the same lines.
stage() { # stage FILE... -> paths of the copies under $WORK/src
	local f
	for f in "$@"; do
		mkdir -p "$WORK/src/$(dirname "$f")"
		sed -E 's/\bBPF_PROG\((\w+), */\1(/' "$f" >"$WORK/src/$f"
		echo "$WORK/src/$f"
	done
}

cocci() { # cocci RULE-FILE FILE... -> findings, file names as in the tree
	local rule=$1
	shift
	spatch --very-quiet --no-show-diff --macro-file "$CHK/macros.h" -I include -I user/lib \
		--sp-file "$CHK/$rule" "$@" 2>"$WORK/spatch.err" | sed "s|$WORK/src/||"
	if grep -qiE "parse error|exception|Traceback" "$WORK/spatch.err"; then
		sed 's/^/spatch: /' "$WORK/spatch.err"
	fi
}

# expect_exactly RULE FILE FINDINGS: the findings are the marked lines.
expect_exactly() {
	local want got
	want=$(grep -n "expect: $1 \*/" "$2" | cut -d: -f1 | sort -n | tr '\n' ' ')
	got=$(grep -E "^$2:[0-9]+:" "$3" | cut -d: -f2 | sort -nu | tr '\n' ' ')
	if [[ -n $want && $want == "$got" ]]; then
		return 0
	fi
	{
		echo "expected lines: $want"
		echo "reported lines: $got"
		cat "$3"
	} >"$3.why"
	return 1
}

facts() { # facts OUT OBJECT...
	python3 "$CHK/btf_facts.py" "${@:2}" >"$1"
}

for tool in spatch scan-build bpftool readelf; do
	if ! command -v $tool >/dev/null; then
		echo "ctaccel: check: $tool missing (scripts/deps.sh installs it)" >&2
		echo "not ok 1 static checks: $tool missing"
		exit 1
	fi
done

echo "1..12"
# The datapath as the kernel gets it (BTF of the built objects).
facts "$WORK/facts" "$OUT/tracker.bpf.o" "$OUT/sockets.bpf.o"
mapfile -t BPF_SRC < <(stage bpf/*.bpf.c bpf/*.bpf.h)
export CHECK_FACTS=$WORK/facts CHECK_ANNOTATED="include/ctaccel.h ${BPF_SRC[*]}"

bpf_rule() { # bpf_rule RULE-NAME FILE-STEM DESCRIPTION
	local name=$1 stem=$2 bad=tests/check/bad_$2.bpf.c
	cocci "$stem.cocci" "${BPF_SRC[@]}" >"$WORK/$stem.product"
	if [[ -s $WORK/$stem.product ]]; then
		result FAIL "$name: none in bpf/ ($3)" "$WORK/$stem.product"
	else
		result OK "$name: none in bpf/ ($3)"
	fi
	clang "${BPF_CFLAGS[@]}" -c "$bad" -o "$WORK/$stem.o" 2>"$WORK/$stem.cc" ||
		cat "$WORK/$stem.cc" >>"$WORK/$stem.bad"
	(
		facts "$WORK/$stem.facts" "$WORK/$stem.o"
		export CHECK_FACTS=$WORK/$stem.facts CHECK_ANNOTATED=$bad
		cocci "$stem.cocci" "$(stage "$bad")"
	) >>"$WORK/$stem.bad" 2>&1
	if expect_exactly "$name" "$bad" "$WORK/$stem.bad"; then
		result OK "$name: reports every marked line of $bad, and only those"
	else
		result FAIL "$name: reports every marked line of $bad, and only those" "$WORK/$stem.bad.why"
	fi
}

# bpf-layout: every module of bpf/ stands on its own (bpf_layout.py).
python3 "$CHK/bpf_layout.py" bpf "${BPF_CFLAGS[@]}" >"$WORK/layout.product" 2>&1
if [[ -s $WORK/layout.product ]]; then
	result FAIL "bpf-layout: bpf/'s modules stand alone, includes at the top, maps in maps.bpf.h" \
		"$WORK/layout.product"
else
	result OK "bpf-layout: bpf/'s modules stand alone, includes at the top, maps in maps.bpf.h ($(ls bpf/*.bpf.h | wc -l) modules)"
fi
python3 "$CHK/bpf_layout.py" tests/check/bad_layout "${BPF_CFLAGS[@]}" >"$WORK/layout.bad" 2>&1
layout_ok=true
for bad in tests/check/bad_layout/*; do
	expect_exactly bpf-layout "$bad" "$WORK/layout.bad" || {
		layout_ok=false
		cat "$WORK/layout.bad.why" >>"$WORK/layout.why"
	}
done
if $layout_ok; then
	result OK "bpf-layout: reports every marked line of tests/check/bad_layout/, and only those"
else
	result FAIL "bpf-layout: reports every marked line of tests/check/bad_layout/, and only those" \
		"$WORK/layout.why"
fi

bpf_rule shared-rmw shared_rmw "read-modify-write of values every CPU shares"
bpf_rule stale-value stale_value "value pointers after a delete or through bpf_loop"
bpf_rule percpu-process percpu_process "per-CPU slots written in process context"

# Userspace writers: the maps the datapath writes, then user/ against them.
cocci bpf_writes.cocci "${BPF_SRC[@]}" >"$WORK/written"
export CHECK_WRITTEN=$WORK/written
cocci user_writer.cocci user/*/*.c >"$WORK/user.product"
if [[ -s $WORK/user.product ]] || ! grep -q "^written ctaccel_flows$" "$WORK/written"; then
	cat "$WORK/written" >>"$WORK/user.product"
	result FAIL "user-writer: user/ changes no map the datapath writes" "$WORK/user.product"
else
	result OK "user-writer: user/ changes no map the datapath writes ($(wc -l <"$WORK/written") such maps)"
fi
bad=tests/check/bad_user_writer.c
cocci user_writer.cocci "$bad" >"$WORK/user.bad"
if expect_exactly user-writer "$bad" "$WORK/user.bad"; then
	result OK "user-writer: reports every marked line of $bad, and only those"
else
	result FAIL "user-writer: reports every marked line of $bad, and only those" "$WORK/user.bad.why"
fi

# General C analysis of user/: the clang static analyzer (docs/checks.md).
analyze_files() { # analyze_files OUT FILE...
	local out=$1
	shift
	scan-build --exclude "$OUT" -o "$WORK/sb" --use-cc=clang sh -c \
		'inc=$1; shift; for f; do $CC -c -o /dev/null -O0 -Wall -D_GNU_SOURCE $inc "$f" || exit 1; done' \
		sh "${USER_INC[*]}" "$@" >"$out.log" 2>&1
	grep -E "^[^ ]+:[0-9]+:[0-9]+: warning: " "$out.log" | grep -v "^$OUT/" >"$out"
	grep -q "scan-build: .* bugs\? found\|scan-build: No bugs found" "$out.log"
}
if analyze_files "$WORK/user.sb" user/*/*.c && [[ ! -s $WORK/user.sb ]]; then
	result OK "analyzer: no findings in user/ ($(ls user/*/*.c | wc -l) files)"
else
	cat "$WORK/user.sb.log" >>"$WORK/user.sb"
	result FAIL "analyzer: no findings in user/" "$WORK/user.sb"
fi
bad=tests/check/bad_analyzer.c
analyze_files "$WORK/an.bad" "$bad"
if expect_exactly analyzer "$bad" "$WORK/an.bad"; then
	result OK "analyzer: reports every marked line of $bad, and only those"
else
	result FAIL "analyzer: reports every marked line of $bad, and only those" "$WORK/an.bad.why"
fi
((failed == 0))
