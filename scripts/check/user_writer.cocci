// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
// Rule user-writer: userspace never updates or deletes in a map the datapath
// writes. A write-back of a value erases the kernel's concurrent updates,
// and a delete bypasses the gauges and the reference protocol; the datapath's
// own programs (the delete program, for removal) are the only change paths.
// A call is caught by the map it names (libctaccel's pin registry: a PIN_*
// id, as a descriptor slot or a pin, skeleton maps, through one local
// variable or struct field) or
// by its key or value type, which only that map uses.

@initialize:python@
@@
import os, re, sys
sys.path.insert(0, os.environ["CHECK_DIR"])
import checklib
checklib.load()
WRITTEN = set(open(os.environ["CHECK_WRITTEN"]).read().split()[1::2])
PINS, FD_MAPS = checklib.user_map_names(os.environ["CHECK_USER_LIB"])
locals_ = {}   # (function, variable) -> right-hand sides
fields = {}    # field -> right-hand sides
calls = []     # (pos, function called, map argument, key/value types)

def name_of(text, func, depth=0):
	text = text.strip()
	m = re.search(r"fd\[\s*(PIN_\w+)\s*\]", text)
	if m:
		return FD_MAPS.get(m.group(1))
	m = re.search(r"\b(PIN_\w+)\b", text)
	if m:
		return PINS.get(m.group(1))
	m = re.search(r"maps\.(\w+)", text)
	if m:
		return m.group(1)
	if depth > 2:
		return None
	m = re.fullmatch(r"\w+", text)
	if m:
		for rhs in locals_.get((func, text), ()):
			n = name_of(rhs, func, depth + 1)
			if n:
				return n
	m = re.search(r"->\s*(\w+)$|\.\s*(\w+)$", text)
	if m:
		for rhs in fields.get(m.group(1) or m.group(2), ()):
			n = name_of(rhs, func, depth + 1)
			if n:
				return n
	return None

@asg@
identifier v;
expression R;
position p;
@@
v@p = R

@script:python@
v << asg.v;
R << asg.R;
p << asg.p;
@@
locals_.setdefault((p[0].current_element, v), []).append(R)

@asg_decl@
identifier v;
type T;
expression R;
position p;
@@
T v@p = R;

@script:python@
v << asg_decl.v;
R << asg_decl.R;
p << asg_decl.p;
@@
locals_.setdefault((p[0].current_element, v), []).append(R)

@asg_field@
expression E, R;
identifier fld;
@@
E->fld = R

@script:python@
fld << asg_field.fld;
R << asg_field.R;
@@
fields.setdefault(fld, []).append(R)

@write@
identifier fn =~ "^bpf_map_+(update|delete|lookup_and_delete)_(elem|batch)$";
expression M;
position p;
@@
fn@p(M, ...)

@script:python@
fn << write.fn;
M << write.M;
p << write.p;
@@
calls.append((p[0], fn, M, None))

@typed_arg@
identifier fn =~ "^bpf_map_+(update|delete|lookup_and_delete)_(elem|batch)$";
expression M;
type T;
T V;
position p;
@@
fn@p(M, ..., &V, ...)

@script:python@
T << typed_arg.T;
p << typed_arg.p;
fn << typed_arg.fn;
M << typed_arg.M;
@@
calls.append((p[0], fn, M, T.strip().replace("const ", "")))

@finalize:python@
@@
for p, fn, M, T in calls:
	name = name_of(M, p.current_element)
	if name in WRITTEN:
		checklib.report("user-writer", p, "%s on %s, which the datapath writes" % (fn, name))
	elif T:
		for m in WRITTEN:
			info = checklib.MAPS.get(m)
			if info and T in (info[2], info[3]) and T.startswith("struct "):
				checklib.report("user-writer", p,
						"%s with a %s, as only %s holds: the datapath writes it" % (fn, T, m))
