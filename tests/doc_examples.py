#!/usr/bin/env python3
"""Every C program in the documentation compiles and runs.

    doc_examples.py --cc "CC" --flags "FLAGS" FILE.md...

Takes each ```c block of the Markdown files, compiles it with CC and FLAGS
(the include directory, the library, warnings as errors), runs it in an
empty directory of its own, and fails when one does not compile or does not
exit with status 0. A block must be a whole program: what the documentation
shows is what a reader can copy.
"""
import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile

BLOCK = re.compile(r"^```c\n(.*?)^```", re.S | re.M)


def blocks(path):
    text = open(path, encoding="utf-8").read()
    for m in BLOCK.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        yield line, m.group(1)


def check(cc, flags, path, line, code):
    where = f"{path}:{line}"
    if "int main" not in code:
        print(f"{where}: a C block that is not a whole program")
        return False
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "example.c"), os.path.join(d, "example")
        with open(src, "w", encoding="utf-8") as f:
            f.write(code)
        built = subprocess.run(cc + [src, "-o", exe] + flags,
                               capture_output=True, text=True)
        if built.returncode != 0:
            print(f"{where}: does not compile:\n{built.stderr}")
            return False
        ran = subprocess.run([exe], cwd=d, capture_output=True, text=True,
                             timeout=120)
        if ran.returncode != 0:
            print(f"{where}: exit status {ran.returncode}:\n{ran.stdout}{ran.stderr}")
            return False
        print(f"{where}: ok: {ran.stdout.strip().splitlines()[-1:]}")
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cc", required=True)
    ap.add_argument("--flags", required=True)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    cc, flags = shlex.split(a.cc), shlex.split(a.flags)
    found, ok = 0, True
    for path in a.files:
        for line, code in blocks(path):
            found += 1
            ok = check(cc, flags, path, line, code) and ok
    if found == 0:
        print("no C examples found")
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
