#!/usr/bin/env python3
"""Every C program in the documentation compiles and runs.

    doc_examples.py --cc "CC" --flags "FLAGS" [--mpicc MPICC --mpirun MPIRUN]
                    FILE.md...

Takes each ```c block of the Markdown files, compiles it with CC and FLAGS
(the include directory, the library, warnings as errors), runs it in an
empty directory of its own, and fails when one does not compile or does not
exit with status 0. A block must be a whole program: what the documentation
shows is what a reader can copy. A program that includes <mpi.h> is
compiled with MPICC and run on 2 ranks by MPIRUN; without them it is
skipped, and said so.
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


def check(cc, flags, path, line, code, mpi):
    where = f"{path}:{line}"
    if "int main" not in code:
        print(f"{where}: a C block that is not a whole program")
        return False
    launch = []
    if "#include <mpi.h>" in code:
        if mpi is None:
            print(f"{where}: skipped: an MPI program, and no MPI given")
            return True
        cc, launch = mpi
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    if launch:  # Open MPI's memory, kept to the end, is not a leak of mlp's
        env["ASAN_OPTIONS"] = "allocator_may_return_null=1:detect_leaks=0"
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "example.c"), os.path.join(d, "example")
        with open(src, "w", encoding="utf-8") as f:
            f.write(code)
        built = subprocess.run(cc + [src, "-o", exe] + flags,
                               capture_output=True, text=True)
        if built.returncode != 0:
            print(f"{where}: does not compile:\n{built.stderr}")
            return False
        ran = subprocess.run(launch + [exe], cwd=d, capture_output=True,
                             text=True, timeout=120, env=env)
        if ran.returncode != 0:
            print(f"{where}: exit status {ran.returncode}:\n{ran.stdout}{ran.stderr}")
            return False
        print(f"{where}: ok: {ran.stdout.strip().splitlines()[-1:]}")
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cc", required=True)
    ap.add_argument("--flags", required=True)
    ap.add_argument("--mpicc")
    ap.add_argument("--mpirun")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    cc, flags = shlex.split(a.cc), shlex.split(a.flags)
    mpi = None
    if a.mpicc and a.mpirun:
        mpi = ([a.mpicc], [a.mpirun, "-np", "2", "--oversubscribe"])
    found, ok = 0, True
    for path in a.files:
        for line, code in blocks(path):
            found += 1
            ok = check(cc, flags, path, line, code, mpi) and ok
    if found == 0:
        print("no C examples found")
        return 1
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
