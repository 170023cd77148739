// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
// Rule shared-rmw: a read-modify-write (++, --, +=, |=, x = x + ...) on a value
// that several CPUs share -- a field of a shared map's value type, a value a
// lookup in a shared map returned, a global (.bss/.data is a shared array
// map) -- loses updates when two CPUs race. Use __sync_*/__atomic_* or a
// per-CPU map; a field, map or global with one writer says so with
// "/* single writer: WHO */" where it is declared.

@initialize:python@
@@
import os, sys
sys.path.insert(0, os.environ["CHECK_DIR"])
import checklib
checklib.load()
SHARED_TYPES = checklib.shared_value_types()

def shared_lookup(M, p):
	m = str(M).strip()
	info = checklib.MAPS.get(m)
	if info and info[1] == "shared" and ("map", m) not in checklib.SINGLE:
		checklib.report("shared-rmw", p[0], "a value of shared map %s: use an atomic" % m)

@typed@
type T;
T *E;
identifier fld, sub;
expression X, I;
position p;
@@
(
E->fld@p++
|
 ++E->fld@p
|
E->fld@p--
|
 --E->fld@p
|
E->fld@p += X
|
E->fld@p -= X
|
E->fld@p |= X
|
E->fld@p &= X
|
E->fld@p ^= X
|
E->fld@p = E->fld + X
|
E->fld@p = E->fld - X
|
E->fld@p = E->fld | X
|
E->fld@p[I]++
|
E->fld@p[I] += X
|
E->fld@p[I].sub++
|
E->fld@p[I].sub += X
|
E->fld@p.sub++
|
E->fld@p.sub += X
)

@script:python@
T << typed.T;
fld << typed.fld;
p << typed.p;
@@
t = T.strip()
if t in SHARED_TYPES and ("field", t, fld) not in checklib.SINGLE:
	checklib.report("shared-rmw", p[0], "%s->%s is shared by every CPU: use an atomic" % (t, fld))

@lookup exists@
expression M, K, X, I;
identifier v, fld;
position p;
@@
v = bpf_map_lookup_elem(&M, K)
...
(
 (*v@p)++
|
 ++(*v@p)
|
 (*v@p) += X
|
 (*v@p) -= X
|
 (*v@p) |= X
|
 *v@p = *v + X
|
v@p->fld++
|
 ++v@p->fld
|
v@p->fld += X
|
v@p->fld -= X
|
v@p->fld |= X
|
v@p->fld = v->fld + X
|
v@p[I]++
|
v@p[I] += X
)

@script:python@
M << lookup.M;
p << lookup.p;
@@
shared_lookup(M, p)

@lookup_decl exists@
expression M, K, X, I;
identifier v, fld;
type T;
position p;
@@
T *v = bpf_map_lookup_elem(&M, K);
...
(
 (*v@p)++
|
 ++(*v@p)
|
 (*v@p) += X
|
 (*v@p) -= X
|
 (*v@p) |= X
|
 *v@p = *v + X
|
v@p->fld++
|
 ++v@p->fld
|
v@p->fld += X
|
v@p->fld -= X
|
v@p->fld |= X
|
v@p->fld = v->fld + X
|
v@p[I]++
|
v@p[I] += X
)

@script:python@
M << lookup_decl.M;
p << lookup_decl.p;
@@
shared_lookup(M, p)

@glob@
identifier G, fld;
expression X, I;
position p;
@@
(
G@p++
|
 ++G@p
|
G@p--
|
G@p += X
|
G@p -= X
|
G@p |= X
|
G@p = G + X
|
G@p[I]++
|
G@p[I] += X
|
G@p.fld++
|
G@p.fld += X
)

@script:python@
G << glob.G;
p << glob.p;
@@
if G in checklib.GLOBALS and ("global", G) not in checklib.SINGLE:
	checklib.report("shared-rmw", p[0], "global %s lives in a shared array map: use an atomic" % G)
