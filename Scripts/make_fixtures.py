#!/usr/bin/env python3
"""PyTorch parity fixtures for the adnn test suite (a development tool only).

PyTorch, timm and safetensors are used here to *make* the small reference files committed under
Tests/ADNNTests/Fixtures; nothing in adnn, its tests or CI runs Python.

    python3 Scripts/make_fixtures.py                  # (re)write every fixture
    python3 Scripts/make_fixtures.py --only conv2d    # the fixtures whose name contains "conv2d"
    python3 Scripts/make_fixtures.py --list           # names and sizes, write nothing
    python3 Scripts/make_fixtures.py --check-load ARCH FILE [--prefix backbone.] [--num-classes N]
        # builds timm ARCH and load_state_dict(strict=True) of the safetensors FILE

Conventions of every op fixture (one .safetensors file each):
- tensors in PyTorch layout (activations NCHW, conv weights [O, I/groups, kh, kw]);
- inputs and parameters (`x`, `weight`, `bias`, ...), output `y`, a fixed random upstream gradient
  `r` (same shape as `y`), and the gradients of backward((y * r).sum()): `grad_x`, `grad_weight`, ...;
- the reference runs in float64 and is cast to float32 when saved; integer labels are stored as float;
- `__metadata__` holds `op` and the op's hyper-parameters as strings (stride, padding, eps, ...).
"""
import argparse
import math
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixture_io import save_sorted  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "ADNNTests", "Fixtures")
DT = torch.float64

# --------------------------------------------------------------------------------------------------
# helpers


def gen(seed):
    g = torch.Generator().manual_seed(seed)
    return g


def randn(g, *shape, scale=1.0):
    return (torch.randn(*shape, generator=g, dtype=DT) * scale)


def uniform(g, *shape, low=-1.0, high=1.0):
    return torch.rand(*shape, generator=g, dtype=DT) * (high - low) + low


def leaf(t):
    return t.detach().clone().requires_grad_(True)


def finish(name, inputs, y, meta, extra=None, seed=0):
    """Backward of (y * r).sum() with a fixed random r, then save inputs, y, r and the gradients.

    inputs: ordered dict name -> leaf tensor (requires_grad for the ones whose gradient is stored,
    plain tensors for the rest, e.g. labels).
    """
    g = gen(10_000 + seed)
    r = uniform(g, *y.shape) if y.dim() > 0 else uniform(g, 1).reshape(())
    (y * r).sum().backward()
    out = {}
    for k, v in inputs.items():
        out[k] = v.detach()
        if v.requires_grad:
            out["grad_" + k] = v.grad.detach()
    out["y"] = y.detach()
    out["r"] = r
    for k, v in (extra or {}).items():
        out[k] = v.detach()
    out = {k: v.to(torch.float32).contiguous() for k, v in out.items()}
    meta = {k: str(v) for k, v in meta.items()}
    return name, out, meta


def pad_str(p):  # (top, bottom, left, right)
    return ",".join(str(int(v)) for v in p)


# --------------------------------------------------------------------------------------------------
# fixtures: each returns (file stem, tensors, metadata)


def conv2d_3x3_s2():
    g = gen(1)
    x, w, b = leaf(randn(g, 2, 4, 9, 9)), leaf(randn(g, 6, 4, 3, 3, scale=0.3)), leaf(randn(g, 6, scale=0.5))
    y = F.conv2d(x, w, b, stride=2, padding=1)
    return finish("conv2d_3x3_s2", {"x": x, "weight": w, "bias": b}, y,
                  {"op": "conv2d", "stride": 2, "padding": pad_str((1, 1, 1, 1)), "dilation": 1, "groups": 1}, seed=1)


def conv_same(name, seed, k, s, c, h, w_, bias):
    """Depthwise conv with TF 'SAME' padding exactly as timm's Conv2dSame (pad_same, asymmetric)."""
    from timm.layers.padding import get_same_padding, pad_same
    g = gen(seed)
    x = leaf(randn(g, 2, c, h, w_))
    w = leaf(randn(g, c, 1, k, k, scale=0.3))
    b = leaf(randn(g, c, scale=0.5)) if bias else None
    y = F.conv2d(pad_same(x, [k, k], [s, s]), w, b, stride=s, groups=c)
    ph, pw = get_same_padding(h, k, s, 1), get_same_padding(w_, k, s, 1)
    pad = (ph // 2, ph - ph // 2, pw // 2, pw - pw // 2)
    inputs = {"x": x, "weight": w}
    if bias:
        inputs["bias"] = b
    return finish(name, inputs, y, {"op": "conv2d", "stride": s, "padding": pad_str(pad), "same": "true",
                                    "dilation": 1, "groups": c, "kernel": k}, seed=seed)


def dw5x5_s1_same():
    return conv_same("dwconv5x5_s1_same", 2, 5, 1, 6, 8, 7, bias=False)


def dw5x5_s2_same():
    # 8x10 input, stride 2, k 5: pad_h = 3 (1 top, 2 bottom), pad_w = 3 (1 left, 2 right)
    return conv_same("dwconv5x5_s2_same", 3, 5, 2, 6, 8, 10, bias=True)


def conv1x1():
    g = gen(4)
    x, w = leaf(randn(g, 2, 8, 5, 5)), leaf(randn(g, 12, 8, 1, 1, scale=0.3))
    y = F.conv2d(x, w)
    return finish("conv1x1", {"x": x, "weight": w}, y,
                  {"op": "conv2d", "stride": 1, "padding": pad_str((0, 0, 0, 0)), "dilation": 1, "groups": 1}, seed=4)


def batchnorm_train():
    g = gen(5)
    x = leaf(randn(g, 4, 6, 5, 5, scale=2.0) + 0.7)
    w, b = leaf(uniform(g, 6, low=0.5, high=1.5)), leaf(randn(g, 6, scale=0.3))
    rm0, rv0 = randn(g, 6, scale=0.2), uniform(g, 6, low=0.5, high=2.0)
    rm, rv = rm0.clone(), rv0.clone()
    y = F.batch_norm(x, rm, rv, w, b, training=True, momentum=0.1, eps=1e-5)
    inputs = {"x": x, "weight": w, "bias": b, "running_mean": rm0, "running_var": rv0}
    return finish("batchnorm_train", inputs, y, {"op": "batch_norm", "training": "true", "momentum": 0.1, "eps": 1e-5},
                  extra={"running_mean_out": rm, "running_var_out": rv}, seed=5)


def batchnorm_eval():
    g = gen(6)
    x = leaf(randn(g, 3, 6, 4, 4, scale=2.0) + 0.3)
    w, b = leaf(uniform(g, 6, low=0.5, high=1.5)), leaf(randn(g, 6, scale=0.3))
    rm, rv = randn(g, 6, scale=0.5), uniform(g, 6, low=0.3, high=3.0)
    y = F.batch_norm(x, rm, rv, w, b, training=False, momentum=0.1, eps=1e-3)
    inputs = {"x": x, "weight": w, "bias": b, "running_mean": rm, "running_var": rv}
    return finish("batchnorm_eval", inputs, y, {"op": "batch_norm", "training": "false", "momentum": 0.1, "eps": 1e-3},
                  seed=6)


def layernorm():
    g = gen(7)
    x = leaf(randn(g, 2, 5, 16, scale=1.5) + 0.4)
    w, b = leaf(uniform(g, 16, low=0.5, high=1.5)), leaf(randn(g, 16, scale=0.3))
    y = F.layer_norm(x, (16,), w, b, eps=1e-5)
    return finish("layernorm", {"x": x, "weight": w, "bias": b}, y, {"op": "layer_norm", "eps": 1e-5}, seed=7)


def activation(name, seed, fn):
    g = gen(seed)
    x = torch.cat([torch.linspace(-8, 8, 65, dtype=DT), randn(g, 63, scale=2.5)]).reshape(4, 32)
    x = leaf(x)
    return finish(name, {"x": x}, fn(x), {"op": name}, seed=seed)


def gelu():
    return activation("gelu", 8, lambda x: F.gelu(x, approximate="none"))


def silu():
    return activation("silu", 9, F.silu)


def softmax():
    g = gen(10)
    x = leaf(randn(g, 5, 7, scale=3.0))
    return finish("softmax", {"x": x}, F.softmax(x, dim=-1), {"op": "softmax", "axis": -1}, seed=10)


def cross_entropy_hard():
    g = gen(11)
    logits = leaf(randn(g, 6, 7, scale=2.0))
    labels = torch.randint(0, 7, (6,), generator=g)
    y = F.cross_entropy(logits, labels)
    return finish("cross_entropy_hard", {"logits": logits, "labels": labels.to(DT)}, y,
                  {"op": "softmax_cross_entropy", "reduction": "mean"}, seed=11)


def cross_entropy_soft():
    g = gen(12)
    logits = leaf(randn(g, 6, 7, scale=2.0))
    targets = F.softmax(randn(g, 6, 7, scale=2.0), dim=1)
    y = F.cross_entropy(logits, targets)
    return finish("cross_entropy_soft", {"logits": logits, "targets": targets}, y,
                  {"op": "softmax_cross_entropy", "reduction": "mean"}, seed=12)


def resize(name, seed, inshape, size, mode, align_corners, antialias):
    g = gen(seed)
    x = leaf(randn(g, *inshape))
    y = F.interpolate(x, size=size, mode=mode, align_corners=align_corners, antialias=antialias)
    return finish(name, {"x": x}, y, {"op": "resize", "mode": mode, "height": size[0], "width": size[1],
                                      "align_corners": str(align_corners).lower(),
                                      "antialias": str(antialias).lower()}, seed=seed)


def bicubic_up():
    return resize("bicubic_up", 13, (2, 3, 6, 7), (11, 13), "bicubic", False, False)


def bicubic_down():
    return resize("bicubic_down", 14, (2, 3, 13, 11), (5, 4), "bicubic", False, False)


def bicubic_down_aa():
    return resize("bicubic_down_aa", 15, (2, 3, 13, 11), (5, 4), "bicubic", False, True)


def bicubic_up_align_corners():
    return resize("bicubic_up_align_corners", 16, (1, 2, 5, 6), (9, 8), "bicubic", True, False)


def bilinear_up():
    return resize("bilinear_up", 17, (1, 2, 5, 6), (9, 11), "bilinear", False, False)


FIXTURE_FNS = [conv2d_3x3_s2, dw5x5_s1_same, dw5x5_s2_same, conv1x1, batchnorm_train, batchnorm_eval, layernorm,
               gelu, silu, softmax, cross_entropy_hard, cross_entropy_soft, bicubic_up, bicubic_down, bicubic_down_aa,
               bicubic_up_align_corners, bilinear_up]


# --------------------------------------------------------------------------------------------------
# reader fixtures for SafeTensorsTests (files written by the Python safetensors library itself)


def same_content(a, b):
    """Equal tensors (names, dtypes, shapes, bytes) and metadata, whatever the header's key order."""
    import json
    parts = []
    for path in (a, b):
        with open(path, "rb") as f:
            raw = f.read()
        n = int.from_bytes(raw[:8], "little")
        parts.append((json.loads(raw[8:8 + n]), raw[8 + n:]))
    return parts[0] == parts[1]


def safetensors_reader_fixtures():
    """`python_dtypes`: one tensor per dtype the Swift reader converts, with exactly representable values;
    `python_f32`: F32 only, one metadata key, to compare the Swift writer's bytes with the library's."""
    t = torch.tensor
    dtypes = {
        "f32": t([[-1.0, -0.5, 0.0], [0.5, 1.0, 1.5]], dtype=torch.float32),
        "f16": t([1.0, -2.5, 0.125, 1024.0, 2.0 ** -10, 65504.0], dtype=torch.float16),
        "bf16": t([1.0, -2.5, 0.125, 2.0 ** 100, -(2.0 ** -100)], dtype=torch.bfloat16),
        "f64": t([1.5, -0.25, 1e10], dtype=torch.float64),
        "i64": t([-3, 0, 7, 2 ** 40], dtype=torch.int64),
        "i32": t([[-5], [123456]], dtype=torch.int32),
        "u8": t([0, 255, 7], dtype=torch.uint8),
        "bool": t([True, False, True], dtype=torch.bool),
        "scalar": t(3.25, dtype=torch.float32),
        "empty": torch.zeros(0, 3, dtype=torch.float32),
    }
    # Written by the library as is (not re-sorted); its two metadata keys come out in random order, so
    # an existing file with the same content is left alone to keep the committed bytes stable.
    path = os.path.join(FIXTURES, "python_dtypes.safetensors")
    meta = {"format": "adnn/1", "note": 'quote " backslash \\ newline \n unicode \u00e9'}
    save_file(dtypes, path + ".new", metadata=meta)
    if os.path.exists(path) and same_content(path, path + ".new"):
        os.remove(path + ".new")
    else:
        os.replace(path + ".new", path)
    f32 = {
        "weight": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4 - 0.5,
        "bias": t([0.25, -0.75], dtype=torch.float32),
        "blocks.0.conv_dw.weight": torch.arange(8, dtype=torch.float32).reshape(2, 1, 2, 2) - 3,
    }
    save_file(f32, os.path.join(FIXTURES, "python_f32.safetensors"), metadata={"format": "adnn/1"})
    return ["python_dtypes", "python_f32"]


# --------------------------------------------------------------------------------------------------
# checkpoint load check (for later issues)


def check_load(arch, path, prefix="", num_classes=None):
    """Builds timm `arch` and loads the safetensors `path` with load_state_dict(strict=True).

    `prefix` (e.g. "backbone.") selects and strips the keys of a sub-module of an adnn checkpoint.
    Prints one line and returns 0 on success; prints the missing/unexpected keys and returns 1 otherwise.
    """
    import timm
    from safetensors.torch import load_file
    state = load_file(path)
    if prefix:
        state = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    kwargs = {} if num_classes is None else {"num_classes": num_classes}
    model = timm.create_model(arch, pretrained=False, **kwargs)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        print(f"check-load FAILED: {arch} <- {path}\n{e}", file=sys.stderr)
        return 1
    n = sum(p.numel() for p in model.parameters())
    print(f"check-load OK: {arch} <- {path} ({len(state)} tensors, {n} parameters)")
    return 0


# --------------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="write only fixtures whose name contains this string")
    ap.add_argument("--list", action="store_true", help="print fixture names and sizes, write nothing")
    ap.add_argument("--check-load", nargs=2, metavar=("ARCH", "FILE"),
                    help="build timm ARCH and load_state_dict(strict=True) from safetensors FILE")
    ap.add_argument("--prefix", default="", help="with --check-load: keep and strip keys with this prefix")
    ap.add_argument("--num-classes", type=int, default=None, help="with --check-load: classifier size")
    args = ap.parse_args()

    if args.check_load:
        return check_load(args.check_load[0], args.check_load[1], args.prefix, args.num_classes)

    torch.set_num_threads(1)
    os.makedirs(FIXTURES, exist_ok=True)
    total = 0
    for fn in FIXTURE_FNS:
        name, tensors, meta = fn()
        if args.only and args.only not in name:
            continue
        path = os.path.join(FIXTURES, name + ".safetensors")
        if not args.list:
            save_sorted(tensors, path, meta)
        size = os.path.getsize(path) if os.path.exists(path) else 0
        total += size
        shapes = " ".join(f"{k}{list(v.shape)}" for k, v in sorted(tensors.items()))
        print(f"{name:28s} {size:8d} B  {shapes}")
        assert size < 200_000, f"{name} is too large ({size} bytes)"
    if not args.list and not args.only:
        for name in safetensors_reader_fixtures():
            size = os.path.getsize(os.path.join(FIXTURES, name + ".safetensors"))
            total += size
            print(f"{name:28s} {size:8d} B")
    print(f"total {total} bytes")
    assert total < 2_000_000, "fixtures together must stay under 2 MB"
    return 0


if __name__ == "__main__":
    sys.exit(main())
