#!/usr/bin/env python3
"""Writes the small torch.save fixtures read by Tests/ADNNTests/TorchPickleTests.swift.

Usage: python3 Scripts/make_pth_fixture.py   (needs torch; run from the package root)

- tiny_state.pth: zip format (the torch.save default)
- tiny_state_legacy.pth: legacy format (_use_new_zipfile_serialization=False)
- tiny_checkpoint.pth: {"epoch": 3, "state_dict": ..., "optimizer": {...}} wrapper
The expected values are simple closed forms so the Swift test can recompute them.
"""
import collections
import os

import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "ADNNTests", "Fixtures")


def state():
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 4 - 1   # (i*4+j)/4 - 1
    sd = collections.OrderedDict()
    sd["conv.weight"] = torch.arange(24, dtype=torch.float32).reshape(2, 3, 2, 2) * 0.5
    sd["transposed"] = base.t()                      # [4, 3], stride (1, 4): non-contiguous
    sd["sliced"] = base[:, 1::2]                     # [3, 2], stride (4, 2), storage offset 1
    sd["half"] = torch.tensor([0.5, -1.25, 65504.0, 1e-3], dtype=torch.float16)
    sd["bf16"] = torch.tensor([1.0, -2.5, 3.140625], dtype=torch.bfloat16)
    sd["double"] = torch.tensor([[1.5, -2.0]], dtype=torch.float64)
    sd["long"] = torch.tensor([-3, 0, 7, 1 << 40], dtype=torch.int64)
    sd["int"] = torch.tensor([5, -6], dtype=torch.int32)
    sd["flag"] = torch.tensor([True, False, True])
    sd["bn.num_batches_tracked"] = torch.tensor(17, dtype=torch.int64)
    sd["param"] = torch.nn.Parameter(torch.tensor([2.0, 4.0]))
    sd["shared_view"] = sd["conv.weight"][1, 2]     # shares conv.weight's storage, offset 20
    return sd


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.save(state(), os.path.join(OUT, "tiny_state.pth"))
    torch.save(state(), os.path.join(OUT, "tiny_state_legacy.pth"), _use_new_zipfile_serialization=False)
    ckpt = {"epoch": 3, "arch": "tiny", "state_dict": state(),
            "optimizer": {"lr": 0.1, "momentum": [torch.zeros(2)]}}
    torch.save(ckpt, os.path.join(OUT, "tiny_checkpoint.pth"))


if __name__ == "__main__":
    main()
