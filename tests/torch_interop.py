#!/usr/bin/env python3
"""A PyTorch model runs in mlp, and a model trained by mlp runs in PyTorch,
with the same outputs. Files go through tests/safetensors_np.py's NumPy
reader and writer (Debian 12 has no safetensors package).

    torch_interop.py path/to/mlp
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_np  # noqa: E402

TOL = 1e-5  # float32 sums in different orders, relative to 1 + |y|


def mlp_run(mlp, model, rows, *extra):
    text = "\n".join(",".join(f"{v:.9g}" for v in r) for r in rows) + "\n"
    out = subprocess.run([mlp, "run", *extra, model], input=text, text=True,
                         capture_output=True, check=True).stdout
    return np.array([[float(v) for v in line.split(",")]
                     for line in out.split()], dtype=np.float64)


def close(a, b, what):
    err = np.max(np.abs(a - b) / (1 + np.abs(b)))
    if not err <= TOL:
        print(f"FAIL: {what}: largest difference {err:.3g}")
        return False
    print(f"ok: {what} (largest difference {err:.2g})")
    return True


def main():
    mlp = os.path.abspath(sys.argv[1])
    torch.manual_seed(3)
    ok = True
    with tempfile.TemporaryDirectory() as d:
        # PyTorch → mlp: an nn.Sequential with torch's own initialisation.
        net = torch.nn.Sequential(
            torch.nn.Linear(6, 16), torch.nn.ReLU(),
            torch.nn.Linear(16, 8), torch.nn.Tanh(),
            torch.nn.Linear(8, 3), torch.nn.Softmax(dim=1)).eval()
        state = {k: v.detach().numpy() for k, v in net.state_dict().items()}
        with_meta = os.path.join(d, "torch.safetensors")
        no_meta = os.path.join(d, "torch-nometa.safetensors")
        safetensors_np.save(with_meta, state, {"activations": "relu,tanh,softmax"})
        safetensors_np.save(no_meta, state)
        x = torch.rand(20, 6) * 4 - 2
        with torch.inference_mode():
            want = net(x).double().numpy()
        ok &= close(mlp_run(mlp, with_meta, x.numpy()), want,
                    "PyTorch nn.Sequential (0.weight, 2.weight, ...) in mlp")
        ok &= close(mlp_run(mlp, no_meta, x.numpy(), "--act", "relu,tanh,softmax"),
                    want, "the same without metadata, activations from --act")

        # mlp → PyTorch: train with mlp train, load into nn.Sequential.
        rng = np.random.default_rng(5)
        data = rng.uniform(-1, 1, (200, 4))
        labels = (data[:, 0] * data[:, 1] > 0).astype(int) + (data[:, 2] > 0.5)
        csv = os.path.join(d, "train.csv")
        np.savetxt(csv, np.column_stack([data, labels]), delimiter=",", fmt="%.6f")
        model = os.path.join(d, "mlp.safetensors")
        subprocess.run([mlp, "train", "--sizes", "4,32,16,3", "--act",
                        "gelu_tanh,silu,softmax", "--loss", "xent", "--epochs", "20",
                        "--batch", "16", "--lr", "0.01", "--out", model, csv],
                       check=True, capture_output=True)
        tensors, meta = safetensors_np.load(model)
        if meta.get("activations") != "gelu_tanh,silu,softmax":
            print(f"FAIL: activations in the file: {meta}")
            ok = False
        back = torch.nn.Sequential(
            torch.nn.Linear(4, 32), torch.nn.GELU(approximate="tanh"),
            torch.nn.Linear(32, 16), torch.nn.SiLU(),
            torch.nn.Linear(16, 3), torch.nn.Softmax(dim=1)).eval()
        torch_names = {f"layers.{i}.{kind}": f"{2 * i}.{kind}"
                       for i in range(3) for kind in ("weight", "bias")}
        back.load_state_dict({torch_names[k]: torch.from_numpy(v.copy())
                              for k, v in tensors.items()})
        xt = torch.from_numpy(data[:30].astype(np.float32))
        with torch.inference_mode():
            want = back(xt).double().numpy()
        ok &= close(mlp_run(mlp, model, xt.numpy()), want,
                    "a model trained by mlp train in PyTorch")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
