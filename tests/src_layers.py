#!/usr/bin/env python3
"""The library's files, layered from the bottom up: none calls above its layer.

    src_layers.py OBJECT_DIR LAYERS_FILE

LAYERS_FILE lists the layers from the bottom, one a line: a name, a colon,
and the source files of the layer. Reads what each object file in
OBJECT_DIR defines and uses (nm), links every use to the file that defines
it, and fails on a file that calls into a layer above its own, on a file
that no layer names, and on files of one layer that call into each other.
"""
import glob
import os
import sys

from link_cycles import cycles, source_name, symbols


def read_layers(path):
    """[(name, [files])], bottom first."""
    layers = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            name, files = line.split(":", 1)
            layers.append((name.strip(), files.split()))
    return layers


def main(argv):
    if len(argv) != 2:
        print(__doc__)
        return 2
    layers = read_layers(argv[1])
    level = {f: i for i, (_, files) in enumerate(layers) for f in files}
    objects = sorted(glob.glob(os.path.join(argv[0], "*.o")))
    if not objects:
        print(f"no object files in {argv[0]}")
        return 1
    table = {source_name(o): symbols(o) for o in objects}
    owner = {sym: name for name, (defined, _) in table.items() for sym in defined}
    ok = True
    for name in sorted(table):
        if name not in level:
            print(f"{name}: in no layer of {argv[1]}")
            ok = False
    graph = {}
    for name, (_, used) in sorted(table.items()):
        calls = sorted({owner[s] for s in used if s in owner} - {name})
        graph[name] = calls
        for callee in calls:
            if name in level and callee in level and level[callee] > level[name]:
                syms = sorted(s for s in used if owner.get(s) == callee)
                print(f"{name} ({layers[level[name]][0]}) calls up into "
                      f"{callee} ({layers[level[callee]][0]}): {', '.join(syms)}")
                ok = False
    for component in cycles(graph):
        print(f"files that call into each other: {', '.join(component)}")
        ok = False
    if ok:
        print(f"{len(table)} files in {len(layers)} layers; none calls above "
              "its layer, none into a file that calls back")
        for i, (layer, files) in reversed(list(enumerate(layers))):
            here = [f for f in files if f in table]
            print(f"  {i} {layer}: {' '.join(here)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
