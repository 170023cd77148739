#!/usr/bin/python3
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
"""Facts the static checks need, read from the compiled BPF objects' BTF
(what the kernel is given, after every macro): one line per map
    map NAME TYPE-NUMBER percpu|shared VALUE-TYPE KEY-TYPE
one per struct type a map's values are or contain
    type STRUCT-TYPE percpu|shared
one per global variable, which lives in a shared array map
    global NAME SECTION
and one per program (from the ELF symbols: its function and section)
    prog NAME SECTION
Usage: btf_facts.py OBJECT.bpf.o...   (needs bpftool)"""
import json
import re
import subprocess
import sys

PERCPU = {5, 6, 10, 21}  # PERCPU_HASH, PERCPU_ARRAY, LRU_PERCPU_HASH, PERCPU_CGROUP_STORAGE


def facts(obj):
    out = subprocess.run(["bpftool", "-j", "btf", "dump", "file", obj],
                         check=True, capture_output=True, text=True).stdout
    types = {t["id"]: t for t in json.loads(out)["types"]}

    def strip(tid):
        while types.get(tid, {}).get("kind") in ("TYPEDEF", "CONST", "VOLATILE", "RESTRICT"):
            if types[tid]["kind"] == "TYPEDEF" and types[tid]["name"].startswith("__"):
                return tid  # keep __u32 and friends by name
            tid = types[tid]["type_id"]
        return tid

    def name(tid):
        tid = strip(tid)
        t = types.get(tid, {})
        if t.get("kind") == "STRUCT":
            return "struct " + t["name"]
        return t.get("name") or t.get("kind", "?").lower()

    def nested(tid, seen=None):
        # a map value's type and every struct inside it, arrays included
        seen = set() if seen is None else seen
        tid = strip(tid)
        while types.get(tid, {}).get("kind") == "ARRAY":
            tid = strip(types[tid]["type_id"])
        t = types.get(tid, {})
        if t.get("kind") != "STRUCT" or tid in seen:
            return
        seen.add(tid)
        yield name(tid)
        for m in t["members"]:
            yield from nested(m["type_id"], seen)

    for t in types.values():
        if t["kind"] != "DATASEC":
            continue
        for v in t["vars"]:
            var = types[v["type_id"]]
            if t["name"] == ".maps":
                fields = {m["name"]: m["type_id"] for m in types[var["type_id"]]["members"]}
                mtype = types[fields["type"]]["type_id"]  # int (*type)[N]
                mtype = types[mtype]["nr_elems"]
                value = "?"
                if "value" in fields:
                    value = name(types[fields["value"]]["type_id"])
                elif "values" in fields:
                    value = "map"
                kind = "percpu" if mtype in PERCPU else "shared"
                key = name(types[fields["key"]]["type_id"]) if "key" in fields else "-"
                yield "map %s %d %s %s %s" % (var["name"], mtype, kind, value.replace(" ", "_"),
                                              key.replace(" ", "_"))
                if "value" in fields:
                    for inner in nested(types[fields["value"]]["type_id"]):
                        yield "type %s %s %s" % (inner.replace(" ", "_"), kind, var["name"])
            elif t["name"] in (".bss", ".data") or t["name"].startswith(".data."):
                yield "global %s %s" % (var["name"], t["name"])


def programs(obj):
    out = subprocess.run(["readelf", "-SWs", obj], check=True, capture_output=True,
                         text=True).stdout
    sections = {}
    for m in re.finditer(r"^\s*\[\s*(\d+)\]\s+(\S+)", out, re.M):
        sections[m.group(1)] = m.group(2)
    for line in out.splitlines():
        w = line.split()
        # Num: Value Size Type Bind Vis Ndx Name
        if len(w) == 8 and w[3] == "FUNC" and w[4] == "GLOBAL" and w[6] in sections:
            if sections[w[6]] != ".text":
                yield "prog %s %s" % (w[7], sections[w[6]])


def main():
    seen = set()
    for obj in sys.argv[1:]:
        for line in list(facts(obj)) + list(programs(obj)):
            if line not in seen:
                seen.add(line)
                print(line)


if __name__ == "__main__":
    main()
