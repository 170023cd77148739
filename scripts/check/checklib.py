# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
"""Shared by the semantic patches' Python rules: the facts from BTF
(btf_facts.py), the single-writer annotations, and one way to report."""
import os
import re

MAPS = {}        # name -> (type number, "percpu" | "shared", value type, key type)
TYPES = {}       # struct type -> {"percpu", "shared"}: map values and what they hold
TYPE_MAPS = {}   # struct type -> the maps whose values are or hold it
GLOBALS = set()  # .bss/.data variables: values of a shared array map
PROGS = {}       # program function -> ELF section
SINGLE = set()   # ("field", "struct T", name) | ("map", name) | ("global", name)
_seen = set()

# "/* single writer: WHO */" on the line that declares a field, a global or
# (on its closing "} name SEC(".maps");" line) a map: the one writer says
# why a plain read-modify-write there loses nothing.
_MARK = re.compile(r"/\*\s*single writer:", re.I)
_STRUCT_OPEN = re.compile(r"^\s*struct\s+(\w+)\s*\{")
_MAP_CLOSE = re.compile(r"^\s*\}\s*(\w+)\s+SEC\(")
_DECL = re.compile(r"\b(\w+)\s*(?:\[[^\]]*\])*\s*(?::\s*\d+\s*)?;")


def _annotations(path):
    struct = None
    with open(path) as f:
        for line in f:
            m = _STRUCT_OPEN.match(line)
            if m:
                struct = "struct " + m.group(1)
            if _MARK.search(line):
                code = line[:_MARK.search(line).start()]
                mc = _MAP_CLOSE.match(code)
                md = _DECL.search(code)
                if mc:
                    SINGLE.add(("map", mc.group(1)))
                elif md and struct:
                    SINGLE.add(("field", struct, md.group(1)))
                elif md:
                    SINGLE.add(("global", md.group(1)))
            if re.match(r"^\s*\}", line):
                struct = None


def _type(word):
    return "struct " + word[len("struct_"):] if word.startswith("struct_") else word


def load():
    facts = os.environ.get("CHECK_FACTS")
    if facts:
        with open(facts) as f:
            for line in f:
                w = line.split()
                if w[0] == "map":
                    MAPS[w[1]] = (int(w[2]), w[3], _type(w[4]), _type(w[5]))
                elif w[0] == "type":
                    TYPES.setdefault(_type(w[1]), set()).add(w[2])
                    TYPE_MAPS.setdefault(_type(w[1]), set()).add(w[3])
                elif w[0] == "prog":
                    PROGS[w[1]] = w[2]
                elif w[0] == "global":
                    GLOBALS.add(w[1])
    for path in os.environ.get("CHECK_ANNOTATED", "").split():
        _annotations(path)


def shared_value_types():
    return {t for t, kinds in TYPES.items() if "shared" in kinds}


def percpu_value_types():
    return {t for t, kinds in TYPES.items() if "percpu" in kinds}


def report_at(rule, file, line, func, msg):
    key = (file, line, rule)
    if key in _seen:
        return
    _seen.add(key)
    print("%s:%s: %s: %s (in %s)" % (file, line, rule, msg, func))


def report(rule, pos, msg):
    report_at(rule, pos.file, pos.line, pos.current_element, msg)


# tc and XDP run in softirq (or with BH off): nothing else on the CPU
# interleaves with them. Every other program type can run in process context.
SOFTIRQ_ONLY = ("tc", "classifier", "action", "xdp")


def process_context(section):
    return not section.split("/")[0].startswith(SOFTIRQ_ONLY)


def user_map_names(lib_dir):
    """libctaccel's names for the pinned maps: each row of the pin registry
    (pins.h: X(ID, FILE, MAP, OBJECT, MEMBER, LIFE)) makes PIN_ID, which is
    both the pin's id and the handle's descriptor slot, stand for the map
    MEMBER of the BPF object."""
    pins = {}
    with open(os.path.join(lib_dir, "pins.h")) as f:
        text = f.read()
    for m in re.finditer(r"\bX\(\s*(\w+)\s*,\s*(?:\"[^\"]*\"|NULL)\s*,\s*MAP\s*,\s*\w+\s*,\s*(\w+)\s*,", text):
        pins["PIN_" + m.group(1)] = m.group(2)
    return pins, pins
