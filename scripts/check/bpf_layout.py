#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0 OR BSD-2-Clause)
"""Rule bpf-layout (docs/checks.md): the modules of a BPF source folder stand
on their own, as Katran's balancer_*.h and Cilium's bpf/lib/*.h do.

    bpf_layout.py DIR CLANG-FLAGS...

Reports "FILE:LINE: bpf-layout: why" for:
  - a module (*.bpf.h) that does not compile in a translation unit of its own
    (included twice: its guard is tried too), so nothing it uses may come
    from whoever includes it;
  - a module without an include guard around all of it;
  - an #include after the first line of code, in a module or a program file;
  - a map (a ".maps" definition, or a data section of its own) outside
    maps.bpf.h, unless in a program file that does not use maps.bpf.h (an
    object of one file: its maps are at its top);
  - a program (SEC other than a map's and "license") outside a program file.
"""
import os
import re
import subprocess
import sys

# A map: a ".maps" definition, or a variable in a data section of its own
# (".data.NAME", ".rodata.NAME", ".bss.NAME": libbpf makes each a map).
MAP = re.compile(r'\bSEC\(\s*"\.(?:maps|(?:data|rodata|bss)(?:\.[^"]*)?)"\s*\)')
PROG = re.compile(r'\bSEC\(\s*"(?!\.maps"|\.(?:data|rodata|bss)\b|license")[^"]*"\s*\)')
INCLUDE = re.compile(r"^\s*#\s*include\b")
ERROR = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+):\d+: (?:fatal )?error: (?P<msg>.*)")


def code_lines(text):
    """(line number, text) of every line outside comments, blank lines left out."""
    out, in_comment = [], False
    for n, line in enumerate(text.split("\n"), 1):
        code, i = "", 0
        while i < len(line):
            if in_comment:
                end = line.find("*/", i)
                if end < 0:
                    i = len(line)
                else:
                    in_comment, i = False, end + 2
            elif line.startswith("/*", i):
                in_comment, i = True, i + 2
            elif line.startswith("//", i):
                i = len(line)
            else:
                code += line[i]
                i += 1
        if code.strip():
            out.append((n, code))
    return out


def report(path, line, msg):
    print("%s:%d: bpf-layout: %s" % (path, line, msg))


def check_file(path, is_module, uses_maps_header):
    lines = code_lines(open(path).read())
    seen_code = False
    for n, code in lines:
        if code.lstrip().startswith("#"):
            if INCLUDE.match(code) and seen_code:
                report(path, n, "#include after code (every include at the top)")
            continue
        seen_code = True
    base = os.path.basename(path)
    for n, code in lines:
        if MAP.search(code) and base != "maps.bpf.h" and (is_module or uses_maps_header):
            report(path, n, "a map outside maps.bpf.h")
        if PROG.search(code) and is_module:
            report(path, n, "a program in a module (programs live in the .bpf.c)")
    if is_module:
        pre = [(n, c.strip()) for n, c in lines if c.strip().startswith("#")]
        guard = re.match(r"#\s*ifndef\s+(\w+)$", pre[0][1]) if pre else None
        if not (guard and lines[0][0] == pre[0][0] and len(pre) > 1 and
                re.match(r"#\s*define\s+%s$" % guard.group(1), pre[1][1]) and
                re.match(r"#\s*endif\b", lines[-1][1].strip())):
            report(path, lines[0][0] if lines else 1, "no include guard around the whole module")


def compile_alone(path, flags):
    """Errors of a translation unit that is the module alone, included twice."""
    tu = '#include "%s"\n#include "%s"\n' % (path, path)
    r = subprocess.run(["clang"] + flags + ["-x", "c", "-c", "-", "-o", "/dev/null"],
                       input=tu, capture_output=True, text=True)
    seen = set()
    for line in r.stderr.splitlines():
        m = ERROR.match(line)
        if not m:
            continue
        key = (m.group("file"), m.group("line"))
        if key in seen:
            continue
        seen.add(key)
        report(os.path.normpath(m.group("file")), int(m.group("line")),
               "does not compile alone: " + m.group("msg"))
    if r.returncode and not seen:
        report(path, 1, "does not compile alone: " + r.stderr.strip()[:200])


def main():
    folder, flags = sys.argv[1], sys.argv[2:]
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name.endswith(".bpf.h"):
            check_file(path, True, False)
            compile_alone(path, flags)
        elif name.endswith(".bpf.c"):
            text = open(path).read()
            check_file(path, False, '"maps.bpf.h"' in text)


if __name__ == "__main__":
    main()
