#!/usr/bin/env python3
"""No file of a program calls into a file that calls back into it.

    link_cycles.py PROGRAM OBJECT_DIR... [-- PROGRAM OBJECT_DIR...]...

For each program, reads what each of its object files defines and uses
(nm), links every use to the file that defines the symbol, and fails on any
cycle among the files, naming them: a file calls into another only if that
one is below it.
"""
import glob
import os
import subprocess
import sys


def symbols(obj):
    """The global symbols obj defines, and those it uses."""
    out = subprocess.run(["nm", "-P", obj], check=True, capture_output=True,
                         text=True).stdout
    defined, used = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if kind == "U":
            used.add(name)
        elif (kind in "TDBRCVW" and kind.isupper()) or kind == "i":
            defined.add(name)  # "i": an ifunc, as function clones make
    return defined, used


def source_name(obj):
    """tools/mlp.p/cmd_run.c.o -> cmd_run.c"""
    name = os.path.basename(obj)
    return name[:-2] if name.endswith(".o") else name


def cycles(graph):
    """The strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def check(program, dirs):
    objects = sorted(o for d in dirs for o in glob.glob(os.path.join(d, "*.o")))
    if not objects:
        print(f"{program}: no object files in {', '.join(dirs)}")
        return False
    table = {source_name(o): symbols(o) for o in objects}
    owner = {}
    for name, (defined, _) in table.items():
        for sym in defined:
            owner[sym] = name
    graph = {name: sorted({owner[s] for s in used if s in owner} - {name})
             for name, (_, used) in table.items()}
    bad = cycles(graph)
    for component in bad:
        calls = "; ".join(f"{a} calls {', '.join(b for b in graph[a] if b in component)}"
                          for a in component)
        print(f"{program}: files that call into each other: {calls}")
    if not bad:
        print(f"{program}: {len(table)} files, no cycle")
    return not bad


def main(argv):
    groups, current = [], []
    for arg in argv:
        if arg == "--":
            groups.append(current)
            current = []
        else:
            current.append(arg)
    groups.append(current)
    ok = all([check(g[0], g[1:]) for g in groups if g])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
