// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
// Rule percpu-process: a per-CPU slot is safe from other CPUs, not from an
// interrupt on its own CPU. A program that can run in process context
// (syscall, sock_ops, cgroup, iterators, tracepoints: anything but tc and
// XDP) can be interrupted in the middle of a plain read-modify-write by the tc
// program on the same CPU, which changes the same slot: one update is lost.
// Such programs, and every function they reach, change per-CPU values with
// atomics. CTR_INC/CTR_ADD are the datapath's plain increments.

@initialize:python@
@@
import os, sys
sys.path.insert(0, os.environ["CHECK_DIR"])
import checklib
checklib.load()
PERCPU_TYPES = checklib.percpu_value_types()
calls = {}   # function -> functions it calls or hands to a helper
sites = []   # (file, line, function, what)

@call@
identifier f;
position p;
@@
f@p(...)

@script:python@
f << call.f;
p << call.p;
@@
calls.setdefault(p[0].current_element, set()).add(f)

@handed@
identifier g, cb;
position p;
@@
g@p(..., cb, ...)

@script:python@
cb << handed.cb;
p << handed.p;
@@
calls.setdefault(p[0].current_element, set()).add(cb)

@typed@
type T;
T *E;
identifier fld;
expression X, I;
position p;
@@
(
E->fld@p++
|
 ++E->fld@p
|
E->fld@p += X
|
E->fld@p -= X
|
E->fld@p |= X
|
E->fld@p = E->fld + X
|
E->fld@p[I]++
|
E->fld@p[I] += X
)

@script:python@
T << typed.T;
fld << typed.fld;
p << typed.p;
@@
if T.strip() in PERCPU_TYPES:
	sites.append((p[0].file, p[0].line, p[0].current_element, "%s->%s" % (T.strip(), fld)))

@macro@
expression E;
identifier fld;
expression X;
position p;
@@
(
CTR_INC@p(E, fld)
|
CTR_ADD@p(E, fld, X)
)

@script:python@
fld << macro.fld;
p << macro.p;
@@
sites.append((p[0].file, p[0].line, p[0].current_element, "counter " + fld))

@lookup exists@
expression M, K, X;
identifier v, fld;
position p;
@@
v = bpf_map_lookup_elem(&M, K)
...
(
 (*v@p)++
|
 (*v@p) += X
|
v@p->fld++
|
v@p->fld += X
)

@script:python@
M << lookup.M;
p << lookup.p;
@@
info = checklib.MAPS.get(str(M).strip())
if info and info[1] == "percpu":
	sites.append((p[0].file, p[0].line, p[0].current_element, "a value of " + str(M).strip()))

@finalize:python@
@@
process = {f for f, sec in checklib.PROGS.items() if checklib.process_context(sec)}
reach = {}
todo = [(f, f) for f in process]
while todo:
	f, root = todo.pop()
	if f in reach:
		continue
	reach[f] = root
	for g in calls.get(f, ()):
		todo.append((g, root))
for file, line, func, what in sites:
	if func in reach:
		checklib.report_at("percpu-process", file, line, func,
				   "%s changed without an atomic, reachable from %s (%s)" %
				   (what, reach[func], checklib.PROGS[reach[func]]))
