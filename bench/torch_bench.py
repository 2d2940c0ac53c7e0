#!/usr/bin/env python3
"""The bench's PyTorch side: runs the bench's networks in torch.nn.Sequential.

Started by mlp-bench as a co-process. It reads one command a line on stdin
and answers one line on stdout, so the C bench can alternate PyTorch with
the other implementations:

  hello THREADS            -> "ok <torch version>"   (sets the thread count)
  net PATH ACTS SIZES      -> "ok"   parameters from PATH: raw little-endian
                              float32, W0 b0 W1 b1 ... (W row-major n_out x n_in,
                              nn.Linear's layout); ACTS and SIZES comma-separated
  input PATH BATCH         -> "ok"   X, BATCH x n_in float32
  run PATH                 -> "ok"   writes net(X), BATCH x n_out float32
  time INNER               -> "ok SECONDS"   INNER passes of net(X)
  run_bf16 PATH            -> "ok"   writes net(X) under bf16 autocast
  time_bf16 INNER          -> "ok SECONDS"   INNER passes under bf16 autocast
  train PATH ACTS SIZES LR BATCH XPATH YPATH N
                           -> "ok"   a network to train as mlp-bench's training
                              bench does: the last layer's softmax folded into
                              nn.CrossEntropyLoss, Adam(lr), N rows of X and
                              one-hot Y from XPATH and YPATH, cycled in batches
  steps K [bf16]           -> "ok L1,L2,..."  K training steps and their losses
                              (bf16: forward and loss under bf16 autocast)
  train_time K [bf16]      -> "ok SECONDS"   K training steps
  quit

Anything wrong answers "error <message>".
"""
import sys
import time

import numpy as np
import torch

ACTS = {
    "identity": lambda: None,
    "relu": torch.nn.ReLU,
    "leaky_relu": lambda: torch.nn.LeakyReLU(0.01),
    "sigmoid": torch.nn.Sigmoid,
    "tanh": torch.nn.Tanh,
    "gelu": torch.nn.GELU,
    "gelu_tanh": lambda: torch.nn.GELU(approximate="tanh"),
    "silu": torch.nn.SiLU,
    "softmax": lambda: torch.nn.Softmax(dim=1),
}


def build(path, acts, sizes):
    params = np.fromfile(path, dtype="<f4")
    layers, at = [], 0
    for l, act in enumerate(acts):
        n_in, n_out = sizes[l], sizes[l + 1]
        lin = torch.nn.Linear(n_in, n_out)
        with torch.no_grad():
            w = params[at:at + n_out * n_in].reshape(n_out, n_in)
            at += n_out * n_in
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(params[at:at + n_out]))
            at += n_out
        layers.append(lin)
        extra = ACTS[act]()
        if extra is not None:
            layers.append(extra)
    if at != params.size:
        raise ValueError(f"{path}: {params.size} floats, expected {at}")
    return torch.nn.Sequential(*layers).eval()


class Trainer:
    def __init__(self, path, acts, sizes, lr, batch, xpath, ypath, n):
        seq = build(path, acts, sizes)
        if acts[-1] != "softmax":
            raise ValueError("the training bench wants a softmax output")
        # Cross-entropy on the logits: the Softmax module is left out.
        self.net = torch.nn.Sequential(*list(seq)[:-1]).train()
        self.opt = torch.optim.Adam(self.net.parameters(), lr=lr)
        self.loss = torch.nn.CrossEntropyLoss()
        x = np.fromfile(xpath, dtype="<f4").reshape(n, sizes[0])
        y = np.fromfile(ypath, dtype="<f4").reshape(n, sizes[-1])
        self.x = torch.from_numpy(x.copy())
        self.y = torch.from_numpy(y.argmax(axis=1))
        self.batch, self.n, self.at = batch, n, 0

    def step(self, bf16=False):
        """One step; with bf16, PyTorch's mixed precision: the forward
        pass and the loss under autocast, the backward pass following its
        types, the parameters and Adam in float."""
        lo = self.at
        self.at = (self.at + self.batch) % self.n
        xb, yb = self.x[lo:lo + self.batch], self.y[lo:lo + self.batch]
        self.opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = self.loss(self.net(xb), yb)
        loss.backward()
        self.opt.step()
        return loss.item()


def warm_up():
    """Runs float and bf16 layers once: PyTorch's first bf16 run sets up
    its kernels, which must not happen while the bench times mlp."""
    lin = torch.nn.Linear(256, 256).eval()
    x = torch.rand(64, 256)
    with torch.inference_mode():
        lin(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            lin(x)


def main():
    net, x, trainer = None, None, None
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        try:
            cmd = words[0]
            if cmd == "hello":
                torch.set_num_threads(int(words[1]))
                warm_up()
                reply = f"ok {torch.__version__}"
            elif cmd == "net":
                acts = words[2].split(",")
                sizes = [int(s) for s in words[3].split(",")]
                net = build(words[1], acts, sizes)
                reply = "ok"
            elif cmd == "input":
                batch = int(words[2])
                data = np.fromfile(words[1], dtype="<f4")
                x = torch.from_numpy(data.reshape(batch, -1).copy())
                reply = "ok"
            elif cmd == "run":
                with torch.inference_mode():
                    y = net(x)
                y.numpy().astype("<f4").tofile(words[1])
                reply = "ok"
            elif cmd == "time":
                inner = int(words[1])
                with torch.inference_mode():
                    t0 = time.perf_counter()
                    for _ in range(inner):
                        net(x)
                    reply = f"ok {time.perf_counter() - t0:.9e}"
            elif cmd == "run_bf16":
                with torch.inference_mode(), \
                        torch.autocast("cpu", dtype=torch.bfloat16):
                    y = net(x)
                y.float().numpy().astype("<f4").tofile(words[1])
                reply = "ok"
            elif cmd == "time_bf16":
                inner = int(words[1])
                with torch.inference_mode(), \
                        torch.autocast("cpu", dtype=torch.bfloat16):
                    t0 = time.perf_counter()
                    for _ in range(inner):
                        net(x)
                    reply = f"ok {time.perf_counter() - t0:.9e}"
            elif cmd == "train":
                trainer = Trainer(words[1], words[2].split(","),
                                  [int(v) for v in words[3].split(",")],
                                  float(words[4]), int(words[5]), words[6],
                                  words[7], int(words[8]))
                reply = "ok"
            elif cmd == "steps":
                bf16 = words[2:] == ["bf16"]
                losses = [trainer.step(bf16) for _ in range(int(words[1]))]
                reply = "ok " + ",".join(f"{v:.9e}" for v in losses)
            elif cmd == "train_time":
                k, bf16 = int(words[1]), words[2:] == ["bf16"]
                t0 = time.perf_counter()
                for _ in range(k):
                    trainer.step(bf16)
                reply = f"ok {time.perf_counter() - t0:.9e}"
            elif cmd == "quit":
                return
            else:
                reply = f"error unknown command {cmd}"
        except Exception as e:  # answer, never die: the bench reports it
            reply = f"error {type(e).__name__}: {e}".replace("\n", " ")
        print(reply, flush=True)


if __name__ == "__main__":
    main()
