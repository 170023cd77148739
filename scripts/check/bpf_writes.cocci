// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
// Not a rule: the maps the datapath writes, for user_writer.cocci. A map is
// written when a program updates or deletes in it, or stores through a
// pointer to its values (a plain store, a read-modify-write or an atomic).
// Prints "written MAP" lines.

@initialize:python@
@@
import os, sys
sys.path.insert(0, os.environ["CHECK_DIR"])
import checklib
checklib.load()
written = set()

@helper@
expression M;
identifier fn =~ "^bpf_map_(update|delete)_elem$";
@@
fn(&M, ...)

@script:python@
M << helper.M;
@@
written.add(str(M).strip())

@through_type@
type T;
T *E;
identifier fld, fld2;
expression X;
identifier atomic =~ "^__(sync|atomic)_";
@@
(
E->fld = X
|
E->fld += X
|
E->fld |= X
|
E->fld++
|
atomic(&E->fld, ...)
|
atomic(&E->fld[...], ...)
|
atomic(&E->fld[...].fld2, ...)
)

@script:python@
T << through_type.T;
@@
t = T.strip().replace("const ", "")
written.update(checklib.TYPE_MAPS.get(t, ()))

@through_lookup exists@
expression M, K, X;
identifier v;
identifier atomic =~ "^__(sync|atomic)_";
@@
v = bpf_map_lookup_elem(&M, K)
...
(
 *v = X
|
 (*v)++
|
 (*v) += X
|
atomic(v, ...)
)

@script:python@
M << through_lookup.M;
@@
written.add(str(M).strip())

@finalize:python@
@@
for m in sorted(written):
	print("written " + m)
