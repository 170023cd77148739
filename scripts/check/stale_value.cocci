// SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
// Rule stale-value: a pointer bpf_map_lookup_elem returned is good for this
// program run and this element only. After a delete in the same map the
// element can be reused for another key (another CPU may insert at once), so
// the pointer must not be used again; and it must not be handed through a
// bpf_loop context, where the callback cannot see where it came from or what
// happened to the element since. Look the key up again instead.

@initialize:python@
@@
import os, sys
sys.path.insert(0, os.environ["CHECK_DIR"])
import checklib
checklib.load()

@after_delete exists@
expression M, K, K2, E;
identifier v;
position p;
@@
v = bpf_map_lookup_elem(&M, K)
... when != v = E
bpf_map_delete_elem(&M, K2)
... when != v = E
v@p

@script:python@
v << after_delete.v;
M << after_delete.M;
p << after_delete.p;
@@
checklib.report("stale-value", p[0], "%s used after a delete in %s" % (v, M))

@after_delete_decl exists@
expression M, K, K2, E;
identifier v;
type T;
position p;
@@
T *v = bpf_map_lookup_elem(&M, K);
... when != v = E
bpf_map_delete_elem(&M, K2)
... when != v = E
v@p

@script:python@
v << after_delete_decl.v;
M << after_delete_decl.M;
p << after_delete_decl.p;
@@
checklib.report("stale-value", p[0], "%s used after a delete in %s" % (v, M))

// The pointer stored in a struct that a bpf_loop callback gets as context.
// The lookup may be in this function or, for a parameter, in a caller: any
// pointer to a map value type counts.
@into_loop exists@
type T;
T *v;
identifier ctx, fld, cb;
expression N;
position p;
@@
(
ctx.fld@p = v
|
ctx->fld@p = v
)
...
bpf_loop(N, cb, ...)

@script:python@
T << into_loop.T;
p << into_loop.p;
@@
if T.strip() in checklib.TYPES:
	checklib.report("stale-value", p[0], "a %s pointer handed to a bpf_loop callback" % T.strip())

@into_loop_init exists@
type T, S;
T *v;
identifier ctx, fld, cb;
expression N;
position p;
@@
S ctx@p = {..., .fld = v, ...};
...
bpf_loop(N, cb, ...)

@script:python@
T << into_loop_init.T;
p << into_loop_init.p;
@@
if T.strip() in checklib.TYPES:
	checklib.report("stale-value", p[0], "a %s pointer handed to a bpf_loop callback" % T.strip())
