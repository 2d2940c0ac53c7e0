#!/usr/bin/env python3
"""Safetensors with NumPy alone, from the format's description, for mlp's tests.

Debian 12 has no `safetensors` Python package, so this reads and writes the
format itself:

  8 bytes   N, the header length, little-endian unsigned
  N bytes   a JSON object: {name: {"dtype", "shape", "data_offsets"}, ...,
            "__metadata__": {str: str}}, padded with spaces
  the rest  the tensors' bytes, data_offsets counted from here

Commands:

  write MODEL X Y --sizes 5,7,3 --acts relu,softmax [--prefix P]
        [--step K] [--no-meta] [--seed S] [--batch B]
        [--dtype F32|F16|BF16|F64] [--poison]
      Writes a network as PyTorch's nn.Sequential state dict would name it
      (P0.weight, P0.bias, P{K}.weight, ...), its tensors in DTYPE, B input
      rows to X, and the outputs computed in float64 from the stored values
      to Y (raw little-endian float32/float64). --poison puts one value a
      float cannot hold in the first weight: infinity (F32, F16, BF16) or
      1e300 (F64).

  check MODEL X Y [--tol T]
      Reads MODEL, computes its outputs on X in float64 and compares them
      with the float32 outputs in Y; exit status 0 when every output is
      within T·(1 + |y|).
"""
import argparse
import json
import struct
import sys

import numpy as np


def load(path):
    """Returns ({name: float32 array}, metadata dict) of a safetensors file.

    A quantised file (I8 weights, "quant.L.weight_scale" and
    "quant.L.input_scale") is dequantised: W = q * weight_scale[:, None]."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        if info["dtype"] not in ("F32", "I8"):
            raise ValueError(f"{name}: dtype {info['dtype']}")
        begin, end = info["data_offsets"]
        shape = tuple(info["shape"])
        arr = np.frombuffer(data[begin:end],
                            dtype="<f4" if info["dtype"] == "F32" else "i1")
        if arr.size != int(np.prod(shape)):
            raise ValueError(f"{name}: {arr.size} values for shape {shape}")
        tensors[name] = arr.reshape(shape)
    for name in [n for n in tensors if n.startswith("quant.")]:
        scale = tensors.pop(name)
        layer, kind = name.split(".")[1:]
        if kind == "weight_scale":
            q = tensors[f"layers.{layer}.weight"]
            tensors[f"layers.{layer}.weight"] = q.astype(np.float32) * scale[:, None]
    return tensors, meta


def to_bf16(arr):
    """float32 values as bfloat16 bits (uint16), rounded to nearest even."""
    u = np.ascontiguousarray(arr, dtype="<f4").view("<u4").astype(np.uint64)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")


def from_bf16(bits):
    return (bits.astype("<u4") << 16).view("<f4")


def encode(arr, dtype):
    """The bytes of arr in dtype, and the values they hold, in float64."""
    if dtype == "BF16":
        bits = to_bf16(arr)
        return bits.tobytes(), from_bf16(bits).astype(np.float64)
    npt = {"F32": "<f4", "F16": "<f2", "F64": "<f8"}[dtype]
    stored = np.ascontiguousarray(arr).astype(npt)
    return stored.tobytes(), stored.astype(np.float64)


def save(path, tensors, metadata=None, dtype="F32"):
    """Writes {name: array} (in that order) in dtype, and string metadata;
    returns {name: the stored values in float64}."""
    header, at, chunks, stored = {}, 0, [], {}
    for name, arr in tensors.items():
        raw, stored[name] = encode(arr, dtype)
        header[name] = {"dtype": dtype, "shape": list(arr.shape),
                        "data_offsets": [at, at + len(raw)]}
        at += len(raw)
        chunks.append(raw)
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)
    return stored


def act(name, z):
    if name == "identity":
        return z
    if name == "relu":
        return np.maximum(z, 0)
    if name == "leaky_relu":
        return np.where(z > 0, z, 0.01 * z)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "silu":
        return z / (1 + np.exp(-z))
    if name == "gelu_tanh":
        k = np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3)
        return 0.5 * z * (1 + np.tanh(k))
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise ValueError(f"activation {name} (gelu needs erf: not in NumPy)")


def layers_of(tensors):
    """[(W, b)] ordered by the number in the names, any common prefix."""
    numbered = {}
    for name, arr in tensors.items():
        stem, kind = name.rsplit(".", 1)
        number = int(stem.rsplit(".", 1)[-1]) if "." in stem else int(stem)
        numbered.setdefault(number, {})[kind] = arr
    return [(numbered[k]["weight"], numbered[k]["bias"]) for k in sorted(numbered)]


def forward(layers, acts, x):
    a = x.astype(np.float64)
    for (w, b), name in zip(layers, acts):
        a = act(name, a @ w.astype(np.float64).T + b.astype(np.float64))
    return a


def main():
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["write", "check"])
    p.add_argument("model")
    p.add_argument("x")
    p.add_argument("y")
    p.add_argument("--sizes")
    p.add_argument("--acts")
    p.add_argument("--prefix", default="")
    p.add_argument("--step", type=int, default=2)
    p.add_argument("--no-meta", action="store_true")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--batch", type=int, default=9)
    p.add_argument("--tol", type=float, default=1e-5)
    p.add_argument("--dtype", default="F32", choices=["F32", "F16", "BF16", "F64"])
    p.add_argument("--poison", action="store_true")
    a = p.parse_args()

    if a.command == "write":
        sizes = [int(s) for s in a.sizes.split(",")]
        acts = a.acts.split(",")
        rng = np.random.default_rng(a.seed)
        tensors = {}
        for l in range(len(sizes) - 1):
            bound = 1 / np.sqrt(sizes[l])  # nn.Linear's initialisation
            name = f"{a.prefix}{l * a.step}"
            tensors[name + ".weight"] = rng.uniform(
                -bound, bound, (sizes[l + 1], sizes[l])).astype(np.float32)
            tensors[name + ".bias"] = rng.uniform(
                -bound, bound, sizes[l + 1]).astype(np.float32)
        if a.poison:
            first = f"{a.prefix}0.weight"
            tensors[first] = tensors[first].astype(np.float64)
            tensors[first][0, 0] = 1e300 if a.dtype == "F64" else np.inf
        stored = save(a.model, tensors,
                      None if a.no_meta else {"activations": ",".join(acts)},
                      a.dtype)
        x = rng.uniform(-2, 2, (a.batch, sizes[0])).astype(np.float32)
        x.astype("<f4").tofile(a.x)
        forward(layers_of(stored), acts, x).astype("<f8").tofile(a.y)
        return 0

    tensors, meta = load(a.model)
    acts = meta["activations"].split(",")
    layers = layers_of(tensors)
    x = np.fromfile(a.x, dtype="<f4").reshape(-1, layers[0][0].shape[1])
    want = forward(layers, acts, x)
    got = np.fromfile(a.y, dtype="<f4").reshape(want.shape)
    err = np.abs(got - want) / (1 + np.abs(want))
    if err.max() > a.tol:
        i = np.unravel_index(err.argmax(), err.shape)
        print(f"output {i}: mlp {got[i]}, NumPy {want[i]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
