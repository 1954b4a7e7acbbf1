#!/usr/bin/env python3
"""Whole-model PyTorch parity fixtures for adnn (a development tool only; CI never runs Python).

    python3 Scripts/make_model_fixtures.py                 # (re)write every model fixture
    python3 Scripts/make_model_fixtures.py --only resnet   # the fixtures whose name contains "resnet"
    python3 Scripts/make_model_fixtures.py --list          # names and sizes, write nothing
    python3 Scripts/make_model_fixtures.py --check-adnn-checkpoint FILE [--io IO]
        # loads an adnn-written checkpoint into the PyTorch reference with load_state_dict(strict=True);
        # with IO (safetensors holding `x` NCHW and adnn's `logits`) also compares the forward pass
    python3 Scripts/make_model_fixtures.py --write-torch-state-dict OUT
        # save_file(model.state_dict()) of the fixture model `effb0_cbam_tfm` (17 MB, not committed)
        # plus OUT.io.safetensors with `x` and PyTorch's `logits`, for ModelParityTests'
        # testLoadsFullTorchStateDict (ADNN_TORCH_STATE_DICT=OUT)

The reference model is Scripts/adnn_torch.py (the ADNN-FER assembly with adnn's names).

Weights. The smallest supported backbone has 3.4 M parameters (13.6 MB as float32), too much for a
committed fixture, so the large weights are *generated*, not stored: every floating tensor of the
state dict with more than GEN_THRESHOLD elements that is a conv/linear weight is filled by a tiny
portable counter-based generator that adnn's test reimplements bit for bit (ModelParityTests.swift,
`portableUniform`):

    seed = FNV-1a-64(utf8(name));  for element i (0-based, PyTorch layout, row-major):
    z = seed + (i + 1)·0x9E3779B97F4A7C15;  z = (z ^ z>>30)·0xBF58476D1CE4E5B9;
    z = (z ^ z>>27)·0x94D049BB133111EB;  z ^= z>>31            (all mod 2^64, splitmix64)
    u = (z >> 40) / 2^24;  w = float32((2u − 1) · k / 4096)    (computed exactly in float64)

with a per-tensor integer k (He-uniform bound ×4096 for convs, √(3/fan_in)·4096 for linears) listed
in the metadata `generated` ({name: k}). Every other tensor (BN affine and running statistics,
biases, LayerNorms, pos_embed, small convs/linears, `num_batches_tracked` as int64) is stored in the
fixture under its own name exactly as PyTorch's `state_dict()` holds it (the file minus the
`fixture.*`, `grad.*`, `gidx.*`, `gstat.*`, `after.*` entries is a partial PyTorch-written state dict).
The metadata `keys` lists every state-dict entry ([name, shape, dtype]) in PyTorch order; adnn's test
assembles the full state dict from both sources and loads it with strict name/shape checking.

BN statistics are non-trivial: running mean/var come from an eval-mode calibration pass on random
inputs (each BN sees its real input) and are then perturbed (mean + 0.3σ·N(0,1), variance ×U(0.7, 1.4));
BN affine is random, so eval-mode BN is neither the identity nor batch statistics. `num_batches_tracked`
holds random counts (int64, as PyTorch writes it).

Conditioning. A float64 reference is only useful if float32 arithmetic can reproduce it. ReLU/ReLU6
kinks break that when a pre-activation lies within float32 noise of the kink (one flipped element changes
a parameter gradient by percents when feature maps are 1×1–2×2). So the input x (and r) is drawn until
(1) every ReLU/ReLU6 input is at least MIN_KINK_MARGIN × (that layer's max float32 − float64 difference)
away from a kink, and (2) PyTorch's own float32 gradients are within MAX_TORCH_F32_GRAD_ERR of the float64
ones (max|Δ| / max(max|ref|, 1e-3·global max), per tensor). The chosen input seed, the margin and
PyTorch's float32 errors are in the metadata (`input_seed`, `kink_margin`, `torch_f32_*`); adnn's test
prints its own errors next to them. ResNet-50 (ReLU everywhere, residual stream without normalisation)
is only well-conditioned at 32×32, batch 1; its last-BN gains are small (as in trained ResNets).

Each fixture (metadata `config` = the adnn `model:` section as JSON; `mode` eval|train):
- `fixture.x` input NCHW, `fixture.r` upstream weights, `fixture.logits`, `fixture.features` (pooled
  feature entering `head`) and `fixture.grad_x`, all of the loss L = (logits · r).sum();
- for every parameter p: `gstat.p` = [‖∂L/∂p‖₂, max|∂L/∂p|] of the full gradient, and either the full
  gradient `grad.p` (≤ GRAD_FULL elements) or GRAD_SAMPLES sampled elements `grad.p` at the flat
  PyTorch-layout indices `gidx.p` (int32, sorted);
- train-mode fixtures also hold `after.b` = each BN running_mean/running_var after the forward pass.
The reference runs in float64 on the float32 weights and is stored as float32.
"""
import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adnn_torch  # noqa: E402
from fixture_io import save_sorted  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "ADNNTests", "Fixtures", "models")
SHARED = os.path.join(os.path.dirname(ROOT), "shared")

GEN_THRESHOLD = 1024     # conv/linear weights with more elements are generated, not stored
GRAD_FULL = 1024         # parameters with at most this many elements have their full gradient stored
GRAD_SAMPLES = 192       # sampled gradient elements of larger parameters
MASK = (1 << 64) - 1

# --------------------------------------------------------------------------------------------------
# portable generator (mirrored in Tests/ADNNTests/ModelParityTests.swift)


def fnv1a64(s):
    h = 0xCBF29CE484222325
    for b in s.encode("utf-8"):
        h ^= b
        h = (h * 0x100000001B3) & MASK
    return h


def portable_uniform(name, count, k):
    """float32 values in [-k/4096, k/4096) from the counter-based generator described above."""
    seed = np.uint64(fnv1a64(name))
    i = np.arange(1, count + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = seed + i * np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float64) / 16777216.0
    return ((2.0 * u - 1.0) * (k / 4096.0)).astype(np.float32)


# --------------------------------------------------------------------------------------------------
# helpers


def dtype_name(t):
    return {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.float16: "F16"}[t.dtype]


def owner_of(model, name):
    return model.get_submodule(name.rsplit(".", 1)[0]) if "." in name else model


def initialise(model, seed):
    """Random weights: large conv/linear weights from the portable generator (returned as {name: k}),
    everything else from torch's generator; then BN calibration and perturbation."""
    g = torch.Generator().manual_seed(seed)
    generated = {}
    with torch.no_grad():
        for name, t in model.state_dict(keep_vars=True).items():
            if not t.is_floating_point():
                continue
            owner = owner_of(model, name)
            leaf = name.rsplit(".", 1)[-1]
            is_conv = isinstance(owner, nn.Conv2d) and leaf == "weight"
            is_linear = (isinstance(owner, nn.Linear) and leaf == "weight") or leaf == "in_proj_weight"
            if is_conv or is_linear:
                fan_in = t[0].numel()
                bound = math.sqrt(6.0 / fan_in) if is_conv else math.sqrt(3.0 / fan_in)
                k = max(1, round(bound * 4096))
                if t.numel() > GEN_THRESHOLD:
                    generated[name] = k
                    t.copy_(torch.from_numpy(portable_uniform(name, t.numel(), k)).reshape(t.shape))
                else:
                    t.copy_((torch.rand(t.shape, generator=g) * 2 - 1) * (k / 4096.0))
            elif isinstance(owner, nn.BatchNorm2d):
                if leaf == "weight" and model.is_resnet and name.endswith(("bn3.weight", "downsample.1.weight")):
                    # Small last-BN gains in the residual branches, as trained ResNets have (timm even
                    # zero-inits them): keeps the un-normalised residual stream, and float32 error, small.
                    t.copy_(torch.rand(t.shape, generator=g) * 0.2 + 0.1)
                elif leaf == "weight":
                    t.copy_(torch.rand(t.shape, generator=g) * 0.8 + 0.6)
                elif leaf == "bias":
                    t.copy_(torch.randn(t.shape, generator=g) * 0.2)
            elif isinstance(owner, nn.LayerNorm):
                if leaf == "weight":
                    t.copy_(torch.rand(t.shape, generator=g) * 0.6 + 0.7)
                else:
                    t.copy_(torch.randn(t.shape, generator=g) * 0.1)
            elif name == "pos_embed":
                t.copy_(torch.randn(t.shape, generator=g) * 0.5)
            elif leaf.endswith("bias"):
                t.copy_((torch.rand(t.shape, generator=g) * 2 - 1) * 0.2)
            else:
                raise RuntimeError(f"no initialiser for {name}")
    calibrate(model, g)
    return generated


def calibrate(model, g):
    """Eval-mode calibration in forward order: a pre-hook gives each BN, on first use, the statistics
    of its actual (eval-mode) input on a random batch, perturbed (mean + 0.3·σ·N(0,1), var ×U(0.7, 1.4)),
    so activations keep a sane scale through the whole network while eval-mode BN stays non-trivial."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    done = set()

    def hook(m, inputs):
        if id(m) in done:
            return
        done.add(id(m))
        x = inputs[0]
        mean = x.mean(dim=(0, 2, 3))
        var = x.var(dim=(0, 2, 3), unbiased=True)
        m.running_mean.copy_(mean + torch.randn(mean.shape, generator=g) * 0.3 * var.sqrt())
        m.running_var.copy_(var * (torch.rand(var.shape, generator=g) * 0.7 + 0.7))
        m.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=g)))

    handles = [m.register_forward_pre_hook(hook) for m in bns]
    model.eval()
    size, cin = model.cfg["input_size"], model.cfg["in_chans"]
    with torch.no_grad():
        model(torch.randn(8, cin, size, size, generator=g))
    for h in handles:
        h.remove()
    assert len(done) == len(bns), "a BatchNorm was not reached by the calibration pass"


def sample_indices(name, numel, g):
    return torch.sort(torch.randperm(numel, generator=g)[:GRAD_SAMPLES]).values


# --------------------------------------------------------------------------------------------------
# model fixtures


EFFB0_TFM = {
    "backbone": "efficientnet_b0", "in_chans": 3, "input_size": 64, "num_classes": 7,
    "drop_rate": 0.4, "drop_path_rate": 0.2,
    "cbam": {"stage": True, "head": True, "reduction": 16, "kernel_size": 7},
    "transformer": {"layers": 2, "heads": 4, "d_model": 64, "d_ff": 128, "dropout": 0.1},
    "pretrained": None,
}

FIXTURES_SPEC = [
    # (name, model config, mode, batch, seed)
    ("model_effb0_cbam_tfm_eval", EFFB0_TFM, "eval", 2, 101),
    ("model_effb0_cbam_tfm_train", dict(EFFB0_TFM, drop_rate=0.0, drop_path_rate=0.0,
                                        transformer=dict(EFFB0_TFM["transformer"], dropout=0.0)), "train", 4, 102),
    ("model_tf_b0_cbam_65_eval", {
        "backbone": "tf_efficientnet_b0", "in_chans": 3, "input_size": 65, "num_classes": 5,
        "drop_rate": 0.2, "drop_path_rate": 0.1, "cbam": {"stage": True, "head": True, "reduction": 16, "kernel_size": 7},
        "transformer": None, "pretrained": None}, "eval", 2, 103),
    ("model_tf_lite0_gray48_eval", {
        "backbone": "tf_efficientnet_lite0", "in_chans": 1, "input_size": 48, "num_classes": 8,
        "drop_rate": 0.2, "drop_path_rate": 0.1, "cbam": {"stage": False, "head": True, "reduction": 16, "kernel_size": 7},
        "transformer": {"layers": 1, "heads": 4, "d_model": 1280, "d_ff": 256, "dropout": 0.1},
        "pretrained": None}, "eval", 2, 104),
    # ResNet-50 at 32×32 (layer4 1×1), batch 1: ReLU kinks make larger inputs ill-conditioned in float32
    # (see model_fixture); the CBAM spatial gates are exercised at larger maps by the EfficientNet fixtures.
    ("model_resnet50_cbam_eval", {
        "backbone": "resnet50", "in_chans": 3, "input_size": 32, "num_classes": 7,
        "drop_rate": 0.4, "drop_path_rate": 0.1, "cbam": {"stage": True, "head": True, "reduction": 16, "kernel_size": 7},
        "transformer": None, "pretrained": None}, "eval", 1, 105),
]


def make_model(cfg, seed):
    torch.manual_seed(seed)
    model = adnn_torch.build(cfg)
    generated = initialise(model, seed)
    return model, generated


def reference_pass(cfg, sd, mode, x, r, dtype):
    """Forward + backward of (logits · r).sum() in `dtype` on the float32 weights `sd`; also returns the
    inputs of every ReLU/ReLU6 (captured before in-place activation) and the model (for its buffers)."""
    model = adnn_torch.build(cfg)
    model.load_state_dict(sd)
    model = model.to(dtype)
    model.train(mode == "train")
    kinks = {}
    for n, m in model.named_modules():
        if isinstance(m, (nn.ReLU, nn.ReLU6)):
            six = isinstance(m, nn.ReLU6)
            m.register_forward_pre_hook(lambda m, i, n=n, six=six: kinks.__setitem__(
                n, (i[0].detach().double().clone(), six)))
    xx = x.to(dtype).requires_grad_(True)
    logits, feats = model(xx)
    (logits * r.to(dtype)).sum().backward()
    grads = {k: p.grad.detach().double() for k, p in model.named_parameters()}
    return logits.detach().double(), feats.detach().double(), xx.grad.detach().double(), grads, kinks, model


def grad_error(ref, other):
    """Worst max|Δ| / max(max|ref|, 1e-3·global max|ref|) over tensors (the Swift test's scale)."""
    gmax = max(v.abs().max().item() for v in ref.values())
    return max((((ref[k] - other[k]).abs().max() / ref[k].abs().max().clamp_min(1e-3 * gmax)).item(), k) for k in ref)


def kink_margin(k64, k32):
    """Smallest distance of a float64 ReLU/ReLU6 input to a kink, in units of that layer's largest
    float32 − float64 difference (< 1: a float32 implementation may take the other side of the kink)."""
    worst = (float("inf"), "")
    for n, (v64, six) in k64.items():
        v32 = k32[n][0]
        err = (v64 - v32).abs().max().clamp_min(1e-12).item()
        dist = v64.abs() if not six else torch.minimum(v64.abs(), (v64 - 6).abs())
        worst = min(worst, (dist.min().item() / err, n))
    return worst


MIN_KINK_MARGIN = 0.25
MAX_TORCH_F32_GRAD_ERR = 5e-4


def model_fixture(name, cfg, mode, batch, seed):
    model, generated = make_model(cfg, seed)
    sd32 = {k: v.detach().clone() for k, v in model.state_dict().items()}
    keys = [[k, list(v.shape), dtype_name(v)] for k, v in sd32.items()]
    size, cin = cfg["input_size"], cfg["in_chans"]

    # Inputs whose float64 reference float32 arithmetic can reproduce: no ReLU input within float32
    # noise of a kink, and PyTorch's own float32 gradients close to the float64 ones. ReLU networks with
    # tiny final feature maps (ResNet) need a few tries; flipping one kink changes a gradient by percents.
    for attempt in range(40):
        input_seed = 10_000 + seed + 1000 * attempt
        g = torch.Generator().manual_seed(input_seed)
        x32 = torch.randn(batch, cin, size, size, generator=g)
        r32 = torch.rand(batch, cfg["num_classes"], generator=g) * 2 - 1
        logits, feats, grad_x, grads, k64, ref_model = reference_pass(cfg, sd32, mode, x32, r32, torch.float64)
        l32, _, gx32, grads32, k32, _ = reference_pass(cfg, sd32, mode, x32, r32, torch.float32)
        margin = kink_margin(k64, k32)
        f32_err = grad_error(grads, grads32)
        f32_gx = ((grad_x - gx32).abs().max() / grad_x.abs().max()).item()
        print(f"  {name} attempt {attempt}: kink margin {margin[0]:.3g} ({margin[1]}), torch float32 grad error "
              f"{f32_err[0]:.2g} ({f32_err[1]}), grad_x {f32_gx:.2g}", flush=True)
        if margin[0] >= MIN_KINK_MARGIN and f32_err[0] <= MAX_TORCH_F32_GRAD_ERR:
            break
    else:
        raise RuntimeError(f"{name}: no well-conditioned input found")

    out = {}
    for k, v in sd32.items():
        if k not in generated:
            out[k] = v.contiguous()
    out["fixture.x"] = x32
    out["fixture.r"] = r32
    out["fixture.logits"] = logits.float()
    out["fixture.features"] = feats.float()
    out["fixture.grad_x"] = grad_x.float()
    n_full = n_sampled = 0
    for pname, grad in grads.items():
        flat = grad.reshape(-1)
        out["gstat." + pname] = torch.tensor([flat.norm().item(), flat.abs().max().item()], dtype=torch.float32)
        if flat.numel() <= GRAD_FULL:
            out["grad." + pname] = grad.float().contiguous()
            n_full += 1
        else:
            idx = sample_indices(pname, flat.numel(), g)
            out["grad." + pname] = flat[idx].float()
            out["gidx." + pname] = idx.to(torch.int32)
            n_sampled += 1
    if mode == "train":
        for bname, b in ref_model.named_buffers():
            if bname.endswith("running_mean") or bname.endswith("running_var"):
                out["after." + bname] = b.detach().float().contiguous()
    meta = {
        "config": json.dumps(cfg, sort_keys=True),
        "mode": mode,
        "keys": json.dumps(keys, separators=(",", ":")),
        "generated": json.dumps(generated, sort_keys=True, separators=(",", ":")),
        "generator": "splitmix64-fnv1a-v1",
        "grad_full": str(GRAD_FULL),
        "grad_samples": str(GRAD_SAMPLES),
        "input_seed": str(input_seed),
        "kink_margin": f"{margin[0]:.4g}",
        "torch_f32_logits_err": f"{(logits - l32).abs().max().item():.3g}",
        "torch_f32_grad_err": f"{f32_err[0]:.3g}",
        "torch_f32_grad_x_err": f"{f32_gx:.3g}",
    }
    info = (f"{len(keys)} state-dict tensors ({len(generated)} generated), params "
            f"{sum(g.numel() for g in grads.values()):,}, grads {n_full} full + {n_sampled} sampled, "
            f"logits max |.| {logits.abs().max().item():.3g}; torch float32 vs float64: logits "
            f"{meta['torch_f32_logits_err']}, grads {meta['torch_f32_grad_err']}, kink margin {meta['kink_margin']}")
    return out, meta, info


# --------------------------------------------------------------------------------------------------
# architecture digests: names and shapes of every supported backbone (with a 1000-class classifier)

ARCH_NAMES = ([f"efficientnet_b{i}" for i in range(8)] + [f"tf_efficientnet_b{i}" for i in range(8)]
              + [f"tf_efficientnet_lite{i}" for i in range(5)] + ["resnet50"])


def arch_digest(name):
    import timm
    m = timm.create_model(name, pretrained=False, num_classes=1000)
    sd = m.state_dict()
    lines = sorted(f"{k}:{','.join(str(d) for d in v.shape)}" for k, v in sd.items())
    text = "\n".join(lines)
    return {"tensors": len(sd), "parameters": sum(p.numel() for p in m.parameters()),
            "digest": f"{fnv1a64(text):016x}"}


def write_arch_digests():
    torch.set_num_threads(2)
    out = {name: arch_digest(name) for name in ARCH_NAMES}
    path = os.path.join(FIXTURES, "timm_architectures.json")
    with open(path, "w") as f:
        json.dump({"about": "timm create_model(name, num_classes=1000): state-dict tensor count, parameter count and "
                            "FNV-1a-64 of the sorted 'name:d0,d1,...' lines joined by newlines "
                            "(Scripts/make_model_fixtures.py --arch)", "models": out}, f, indent=1, sort_keys=True)
        f.write("\n")
    for k, v in out.items():
        print(f"{k:24s} {v['tensors']:5d} tensors {v['parameters']:>12,d} params  {v['digest']}")


# --------------------------------------------------------------------------------------------------
# pretrained reference images (ImageNet samples of ../shared/data/imagenet_samples)


def write_imagenet_pixels():
    """The four 224×224 photos as uint8 RGB [4, 224, 224, 3] (decoded with PIL) and PyTorch's
    probabilities of tf_efficientnet_lite0 with the shared weights, for the pretrained test."""
    from PIL import Image
    d = os.path.join(SHARED, "data", "imagenet_samples")
    expected = json.load(open(os.path.join(d, "expected.json")))
    names = sorted(expected["expected"])
    pix = np.stack([np.asarray(Image.open(os.path.join(d, n)).convert("RGB")) for n in names])
    assert pix.shape == (len(names), 224, 224, 3), pix.shape
    x = torch.from_numpy(pix).float().permute(0, 3, 1, 2) / 255.0
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = (x - mean) / std
    model = adnn_torch.build({"backbone": "tf_efficientnet_lite0", "num_classes": 1000, "cbam": None,
                              "transformer": None, "input_size": 224})
    sd = load_file(os.path.join(SHARED, "models", "tf_efficientnet_lite0.in1k.safetensors"))
    mapped = {("head." + k[len("classifier."):]) if k.startswith("classifier.") else "backbone." + k: v
              for k, v in sd.items()}
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
    model.eval()
    with torch.no_grad():
        probs = model(x)[0].softmax(-1)
    for i, n in enumerate(names):
        top = probs[i].topk(5)
        exp = expected["expected"][n]
        print(f"{n:14s} torch top5 {top.indices.tolist()} p {[round(v, 6) for v in top.values.tolist()]}")
        print(f"{'':14s} expected   {exp['top5']} p {exp['probs']}")
    out = {"pixels": torch.from_numpy(pix.copy()).contiguous()}
    path = os.path.join(FIXTURES, "imagenet_samples_u8.safetensors")
    save_sorted(out, path, {"names": json.dumps(names), "layout": "NHWC uint8 RGB"})
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


# --------------------------------------------------------------------------------------------------
# checkpoint interop


def check_adnn_checkpoint(path, io_path):
    from safetensors import safe_open
    with safe_open(path, "pt") as f:
        meta = f.metadata() or {}
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    print(f"{path}: {len(tensors)} tensors, metadata keys {sorted(meta)}")
    print(f"  format={meta.get('format')} epoch={meta.get('epoch')} metric={meta.get('metric')} classes={meta.get('classes')}")
    assert meta.get("format") == "adnn/1", "not an adnn/1 checkpoint"
    cfg = adnn_torch.resolve_model_config(meta["config"])
    print(f"  model config: {json.dumps(cfg, sort_keys=True)}")
    extra = sorted(k for k in tensors if k.startswith(("optim.", "center_loss.", "ema.")))
    sd = {k: v for k, v in tensors.items() if k not in extra}
    print(f"  non-model tensors (skipped): {len(extra)} {extra[:4]}{' …' if len(extra) > 4 else ''}")
    dtypes = sorted({str(v.dtype) for v in sd.values()})
    print(f"  model tensors: {len(sd)}, dtypes {dtypes}")
    model = adnn_torch.build(cfg)
    nbt = {k: v for k, v in sd.items() if k.endswith("num_batches_tracked")}
    result = model.load_state_dict(sd, strict=True)
    print(f"  load_state_dict(strict=True): {result}")
    own = model.state_dict()
    worst = max((own[k].double() - v.double()).abs().max().item() for k, v in sd.items())
    print(f"  max |loaded − file| over all tensors: {worst}")
    if nbt:
        k0 = sorted(nbt)[0]
        print(f"  num_batches_tracked: file {nbt[k0].dtype} shape {list(nbt[k0].shape)} value {nbt[k0].item()} → "
              f"torch buffer {own[k0].dtype} value {own[k0].item()} ({len(nbt)} such tensors, "
              f"all equal after load: {all(own[k].item() == v.item() for k, v in nbt.items())})")
    if io_path:
        io = load_file(io_path)
        model.eval()
        with torch.no_grad():
            logits = model.double()(io["x"].double())[0]
        diff = (logits - io["logits"].double()).abs().max().item()
        scale = io["logits"].abs().max().item()
        print(f"  forward on {list(io['x'].shape)} input: max |torch − adnn| logits {diff:.3g} (max |logit| {scale:.3g})")
        assert diff <= 1e-4 * max(1.0, scale), "logits differ"
    print("OK")
    return 0


def write_torch_state_dict(out):
    name, cfg, mode, batch, seed = FIXTURES_SPEC[0]
    model, _ = make_model(cfg, seed)
    model.eval()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out)
    g = torch.Generator().manual_seed(7)
    x = torch.randn(2, cfg["in_chans"], cfg["input_size"], cfg["input_size"], generator=g)
    with torch.no_grad():
        logits = model.double()(x.double())[0].float()
    io = out + ".io.safetensors"
    save_file({"x": x, "logits": logits}, io, metadata={"config": json.dumps(cfg, sort_keys=True)})
    print(f"wrote {out} ({os.path.getsize(out)} bytes, {len(model.state_dict())} tensors) and {io}")
    return 0


# --------------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", help="write only fixtures whose name contains this string")
    ap.add_argument("--list", action="store_true", help="build and report, write nothing")
    ap.add_argument("--arch", action="store_true", help="(re)write Fixtures/models/timm_architectures.json only")
    ap.add_argument("--imagenet", action="store_true", help="(re)write Fixtures/models/imagenet_samples_u8.safetensors only")
    ap.add_argument("--check-adnn-checkpoint", metavar="FILE")
    ap.add_argument("--io", metavar="FILE", help="with --check-adnn-checkpoint: x and adnn logits to compare")
    ap.add_argument("--write-torch-state-dict", metavar="OUT")
    args = ap.parse_args()
    torch.set_num_threads(2)

    if args.check_adnn_checkpoint:
        return check_adnn_checkpoint(args.check_adnn_checkpoint, args.io)
    if args.write_torch_state_dict:
        return write_torch_state_dict(args.write_torch_state_dict)
    if args.arch:
        return write_arch_digests()
    if args.imagenet:
        return write_imagenet_pixels()

    os.makedirs(FIXTURES, exist_ok=True)
    total = 0
    for name, cfg, mode, batch, seed in FIXTURES_SPEC:
        if args.only and args.only not in name:
            continue
        tensors, meta, info = model_fixture(name, cfg, mode, batch, seed)
        path = os.path.join(FIXTURES, name + ".safetensors")
        if not args.list:
            save_sorted(tensors, path, meta)
        size = os.path.getsize(path) if os.path.exists(path) else 0
        total += size
        print(f"{name:30s} {size:9d} B  {info}")
        assert size < 1_500_000, f"{name} is too large ({size} bytes)"
    print(f"total {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
