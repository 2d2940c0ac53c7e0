#!/usr/bin/env python3
"""The symbols libmlp.so exports are exactly the functions mlp.h declares
(MLP_API), each with a symbol version; nothing else leaks.

    tests/exports.py path/to/libmlp.so path/to/mlp.h
"""
import re
import subprocess
import sys


def declared(header):
    text = open(header, encoding="utf-8").read()
    # MLP_API <return type> <name>(  — the name is the last word before '('.
    return set(re.findall(r"^MLP_API\b[^(;]*?\b(mlp_\w+)\s*\(", text, re.M))


def exported(lib):
    out = subprocess.run(["nm", "-D", "--defined-only", lib], check=True,
                         capture_output=True, text=True).stdout
    names, unversioned = set(), []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) != 3 or parts[1] == "A":  # version nodes
            continue
        name, _, version = parts[2].partition("@@")
        names.add(name)
        if not version.startswith("MLP_"):
            unversioned.append(name)
    return names, unversioned


def main():
    lib, header = sys.argv[1], sys.argv[2]
    want = declared(header)
    got, unversioned = exported(lib)
    failed = False
    for name in sorted(got - want):
        print(f"exported but not in mlp.h: {name}")
        failed = True
    for name in sorted(want - got):
        print(f"in mlp.h but not exported: {name}")
        failed = True
    for name in sorted(unversioned):
        print(f"exported without a symbol version: {name}")
        failed = True
    if len(want) < 40:
        print(f"only {len(want)} declarations found in {header}: the pattern broke")
        failed = True
    print(f"{len(got)} symbols exported, {len(want)} functions declared")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
