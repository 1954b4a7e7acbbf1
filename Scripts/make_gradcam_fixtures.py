#!/usr/bin/env python3
"""Grad-CAM parity fixtures for adnn (a development tool only; CI never runs Python).

    python3 Scripts/make_gradcam_fixtures.py

For each model fixture named in GRADCAM_MODELS (written by Scripts/make_model_fixtures.py), rebuilds
the PyTorch reference model (Scripts/adnn_torch.py) with the fixture's weights — stored tensors plus
the portable generated ones — in float64, eval mode, and computes Grad-CAM (Selvaraju et al.,
ICCV 2017, https://arxiv.org/abs/1610.02391) for the first fixture input:

    A = cbam_head(features(x))           (the feature map entering the head stage)
    alpha[t, k] = mean_{h,w} d logits[t] / d A[k]      for every class t
    coarse = ReLU(sum_k alpha[target, k] A[k]),  target = arg max logits
    cam = F.interpolate(coarse, (H, W), bilinear, align_corners=False) / max   (0 stays 0)

and writes Tests/ADNNTests/Fixtures/models/gradcam_<model fixture>.safetensors with `x` (NCHW),
`feature_map` (NCHW), `logits`, `alpha` [classes, C], `coarse` [h, w], `cam` [H, W] (float32) and the
metadata `model_fixture` and `target`. ExplainTests' testGradCAMMatchesPyTorch compares adnn's
GradCAM against it.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F
from safetensors import safe_open

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import adnn_torch  # noqa: E402
from fixture_io import save_sorted  # noqa: E402
from make_model_fixtures import FIXTURES, portable_uniform  # noqa: E402

GRADCAM_MODELS = ["model_effb0_cbam_tfm_eval", "model_tf_b0_cbam_65_eval"]


def load_fixture_model(name):
    """The reference model with the fixture's weights (float64, eval mode) and the fixture input."""
    with safe_open(os.path.join(FIXTURES, name + ".safetensors"), "pt") as f:
        meta = f.metadata()
        generated = json.loads(meta["generated"])
        sd = {}
        for key, shape, _ in json.loads(meta["keys"]):
            if key in generated:
                n = 1
                for d in shape:
                    n *= d
                sd[key] = torch.from_numpy(portable_uniform(key, n, generated[key])).reshape(shape)
            else:
                sd[key] = f.get_tensor(key)
        x = f.get_tensor("fixture.x")[:1].clone()
    model = adnn_torch.build(adnn_torch.resolve_model_config(meta["config"]))
    model.load_state_dict(sd, strict=True)
    return model.double().eval(), x


def classify(model, f):
    """The rest of ADNNFER.forward from the head-stage feature map `f` [N, C, h, w]: logits."""
    if model.transformer is not None:
        tokens = f.flatten(2).transpose(1, 2)
        if model.proj is not None:
            tokens = model.proj(tokens)
        pooled = model.transformer(tokens + model.pos_embed).mean(dim=1)
    else:
        pooled = f.mean(dim=(2, 3))
    return model.head(model.drop(pooled))


def gradcam_fixture(name):
    model, x32 = load_fixture_model(name)
    x = x32.double()
    with torch.no_grad():
        a = model.features(x)
        if model.cbam_head is not None:
            a = model.cbam_head(a)
        reference_logits, _ = model(x)
    leaf = a.clone().requires_grad_(True)
    logits = classify(model, leaf)[0]
    assert torch.allclose(logits, reference_logits[0], atol=1e-12), "classify(features) must equal forward"
    alphas = []
    for t in range(logits.shape[0]):
        (g,) = torch.autograd.grad(logits[t], leaf, retain_graph=True)
        alphas.append(g[0].mean(dim=(1, 2)))
    alpha = torch.stack(alphas)                                   # [classes, C]
    target = int(logits.argmax())
    coarse = F.relu((alpha[target][:, None, None] * a[0]).sum(dim=0))   # [h, w]
    up = F.interpolate(coarse[None, None], size=x.shape[2:], mode="bilinear", align_corners=False)[0, 0]
    peak = up.max()
    cam = up / peak if peak > 0 else up
    tensors = {
        "x": x32.contiguous(),
        "feature_map": a.float().contiguous(),
        "logits": logits.detach().float().contiguous(),
        "alpha": alpha.float().contiguous(),
        "coarse": coarse.detach().float().contiguous(),
        "cam": cam.detach().float().contiguous(),
    }
    meta = {"model_fixture": name, "target": str(target), "reference": "float64 PyTorch, Scripts/adnn_torch.py"}
    path = os.path.join(FIXTURES, "gradcam_" + name.removeprefix("model_") + ".safetensors")
    save_sorted(tensors, path, meta)
    print(f"{path}: feature map {list(a.shape)}, target {target}, cam max at {int(cam.argmax())}, "
          f"{os.path.getsize(path):,} bytes")


def main():
    torch.set_grad_enabled(True)
    for name in GRADCAM_MODELS:
        gradcam_fixture(name)


if __name__ == "__main__":
    main()
