#!/usr/bin/env python3
"""PyTorch twin of `adnn bench` (development only; PyTorch is never a run-time dependency of adnn).

Builds the ADNN-FER architecture of SPEC §1 from the same YAML config with timm's EfficientNet
(conv_stem, bn1, blocks, conv_head, bn2), official-code CBAM after stage index 4 and after the
head, tokens + pos_embed, nn.TransformerEncoder(norm_first=True, gelu, batch_first) with a final
LayerNorm, mean over tokens, dropout and a Linear head. Train mode runs the compound loss
(CE + center loss + distribution-aware label-smoothed CE), backward, grad-norm clipping and an
AdamW step, then the center update — the same step as `adnn bench --mode train`.

Prints one JSON line with the keys of `adnn bench --json`:
mode, batch, images_per_second, params, gflops, peak_rss_mib, threads, iterations, seconds, config.

    python3 Scripts/bench_torch.py --config Configs/bench-small.yaml --mode infer --batch 1 --seconds 10 --threads 2
"""
import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
import timm
import yaml

from bench_timing import measure, report


class ChannelGate(nn.Module):
    def __init__(self, c, reduction):
        super().__init__()
        hidden = max(1, c // reduction)
        self.fc1 = nn.Linear(c, hidden)
        self.fc2 = nn.Linear(hidden, c)

    def forward(self, x):  # x: [N, C, H, W]
        avg = x.mean(dim=(2, 3))
        mx = x.amax(dim=(2, 3))
        s = self.fc2(F.relu(self.fc1(avg))) + self.fc2(F.relu(self.fc1(mx)))
        return x * torch.sigmoid(s)[:, :, None, None]


class SpatialGate(nn.Module):
    def __init__(self, k):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, k, padding=k // 2, bias=False)
        self.bn = nn.BatchNorm2d(1, eps=1e-5, momentum=0.01)

    def forward(self, x):
        pooled = torch.cat([x.amax(dim=1, keepdim=True), x.mean(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.bn(self.conv(pooled)))


class CBAM(nn.Module):
    def __init__(self, c, reduction=16, kernel_size=7):
        super().__init__()
        self.channel = ChannelGate(c, reduction)
        self.spatial = SpatialGate(kernel_size)

    def forward(self, x):
        return self.spatial(self.channel(x))


def feature_side(s):
    for _ in range(5):
        s = (s + 1) // 2
    return s


class ADNNFER(nn.Module):
    def __init__(self, m):
        super().__init__()
        name = m.get("backbone", "efficientnet_b5")
        self.backbone = timm.create_model(name, pretrained=False, num_classes=0, global_pool="",
                                          in_chans=m.get("in_chans", 3), drop_path_rate=m.get("drop_path_rate", 0.2))
        self.backbone.classifier = nn.Identity()
        c = self.backbone.num_features
        stage_c = self.backbone.blocks[4][-1].conv_pwl.out_channels
        cb = m.get("cbam", {"stage": True, "head": True, "reduction": 16, "kernel_size": 7})
        self.cbam_stage = CBAM(stage_c, cb.get("reduction", 16), cb.get("kernel_size", 7)) if cb and cb.get("stage", True) else None
        self.cbam_head = CBAM(c, cb.get("reduction", 16), cb.get("kernel_size", 7)) if cb and cb.get("head", True) else None
        t = m.get("transformer", {"layers": 6, "heads": 8, "d_model": 2048, "d_ff": 4096, "dropout": 0.1})
        classes = m.get("num_classes", 7)
        if t:
            d = t.get("d_model", 2048)
            self.proj = nn.Linear(c, d) if c != d else None
            side = feature_side(m.get("input_size", 224))
            self.pos_embed = nn.Parameter(torch.zeros(1, side * side, d))
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
            layer = nn.TransformerEncoderLayer(d, t.get("heads", 8), t.get("d_ff", 4096), t.get("dropout", 0.1),
                                               activation="gelu", batch_first=True, norm_first=True)
            self.transformer = nn.TransformerEncoder(layer, t.get("layers", 6), norm=nn.LayerNorm(d),
                                                     enable_nested_tensor=False)
            # nn.TransformerEncoder deep-copies `layer`: every layer would start with the same weights, and
            # the ONNX exporter then stores one copy shared by all (ONNX Runtime's peak memory and cache
            # footprint would count one layer of six). A trained model has distinct layers; so does this.
            for lyr in self.transformer.layers:
                lyr.self_attn._reset_parameters()
                lyr.linear1.reset_parameters()
                lyr.linear2.reset_parameters()
            self.head = nn.Linear(d, classes)
        else:
            self.proj = None
            self.pos_embed = None
            self.transformer = None
            self.head = nn.Linear(c, classes)
        self.drop = nn.Dropout(m.get("drop_rate", 0.4))
        self.feature_dim = self.head.in_features

    def forward(self, x):
        b = self.backbone
        x = b.bn1(b.conv_stem(x))
        for i, stage in enumerate(b.blocks):
            x = stage(x)
            if i == 4 and self.cbam_stage is not None:
                x = self.cbam_stage(x)
        x = b.bn2(b.conv_head(x))          # timm BatchNormAct2d: BN + SiLU
        if self.cbam_head is not None:
            x = self.cbam_head(x)
        if self.transformer is not None:
            tokens = x.flatten(2).transpose(1, 2)      # [N, h·w, C]
            if self.proj is not None:
                tokens = self.proj(tokens)
            tokens = self.transformer(tokens + self.pos_embed)
            pooled = tokens.mean(dim=1)
        else:
            pooled = x.mean(dim=(2, 3))
        return self.head(self.drop(pooled)), pooled


class CenterLoss(nn.Module):
    def __init__(self, classes, dim, alpha):
        super().__init__()
        self.register_buffer("centers", torch.zeros(classes, dim))
        self.alpha = alpha

    def forward(self, f, y):
        return 0.5 * (f - self.centers[y]).pow(2).sum(dim=1).mean()

    @torch.no_grad()
    def update(self, f, y):
        k = self.centers.shape[0]
        diff = self.centers[y] - f
        delta = torch.zeros_like(self.centers).index_add_(0, y, diff)
        counts = torch.bincount(y, minlength=k).to(f.dtype)[:, None]
        self.centers -= self.alpha * delta / (1 + counts)


def dls_targets(y, classes, eps=0.1, eps_max=0.4):
    w = torch.ones(classes)          # uniform class counts, as `adnn bench`
    w = w / w.mean()
    e = torch.clamp(eps * w[y], max=eps_max)[:, None]
    return (1 - e) * F.one_hot(y, classes).float() + e * (w / w.sum())[None, :]


class LogitsOnly(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)[0]


def export_onnx(model, x, path):
    """The eval-mode twin as ONNX (opset 18, fixed input shape), for ONNX Runtime."""
    wrapped = LogitsOnly(model).eval()
    # The eval-mode transformer fast path (aten::_transformer_encoder_layer_fwd) has no ONNX export; the
    # exported graph is the same layer written out in standard ops.
    if hasattr(torch.backends, "mha"):
        torch.backends.mha.set_fastpath_enabled(False)
    with torch.no_grad():
        try:
            torch.onnx.export(wrapped, (x,), path, input_names=["input"], output_names=["logits"], opset_version=18,
                              dynamo=False)
        except Exception:  # exporters without the TorchScript path
            torch.onnx.export(wrapped, (x,), path, input_names=["input"], output_names=["logits"], opset_version=18)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--mode", default="infer", choices=["infer", "train"])
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--channels-last", action="store_true", help="NHWC memory format for model and input")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--export-onnx", metavar="FILE",
                    help="write the eval-mode model (batch --batch, fixed shape) as ONNX to FILE and exit "
                         "(Scripts/bench_ort.py runs it)")
    a = ap.parse_args()

    if a.threads:
        torch.set_num_threads(a.threads)
    with open(a.config) as fh:
        cfg = yaml.safe_load(fh) or {}
    m = cfg.get("model", {})
    loss_cfg = {"ce": 0.60, "center": 0.25, "dls": 0.15, "center_alpha": 0.5, "dls_epsilon": 0.1}
    loss_cfg.update(cfg.get("loss", {}) or {})
    optim_cfg = {"lr": 3e-4, "weight_decay": 0.05, "betas": [0.9, 0.999], "grad_clip": 5.0}
    optim_cfg.update(cfg.get("optim", {}) or {})
    torch.manual_seed(cfg.get("seed", 42))

    model = ADNNFER(m)
    s, cin, classes = m.get("input_size", 224), m.get("in_chans", 3), m.get("num_classes", 7)
    x = torch.randn(a.batch, cin, s, s)
    y = torch.arange(a.batch) % classes
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    params = sum(p.numel() for p in model.parameters())

    # MACs of convolutions, linears and attention products, counted as `adnn` counts them.
    macs = [0]

    def conv_hook(mod, inp, out):
        macs[0] += out.numel() * mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]

    def lin_hook(mod, inp, out):
        macs[0] += out.numel() * mod.in_features

    hooks = [mm.register_forward_hook(conv_hook) for mm in model.modules() if isinstance(mm, nn.Conv2d)]
    hooks += [mm.register_forward_hook(lin_hook) for mm in model.modules() if isinstance(mm, nn.Linear)]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, cin, s, s))
    for h in hooks:
        h.remove()
    if model.transformer is not None:
        t = feature_side(s) ** 2
        tc = m.get("transformer", {})
        d = tc.get("d_model", 2048)
        # in_proj and out_proj (the fused attention path skips out_proj's forward hook) + the two products
        macs[0] += tc.get("layers", 6) * (t * 4 * d * d + 2 * t * t * d)

    if a.export_onnx:
        model.eval()
        export_onnx(model, x, a.export_onnx)
        return

    if a.mode == "infer":
        model.eval()

        def step():
            with torch.no_grad():
                model(x)
    else:
        model.train()
        center = CenterLoss(classes, model.feature_dim, loss_cfg["center_alpha"])
        opt = torch.optim.AdamW(model.parameters(), lr=optim_cfg["lr"], betas=tuple(optim_cfg["betas"]),
                                weight_decay=optim_cfg["weight_decay"])
        q = dls_targets(y, classes, loss_cfg["dls_epsilon"])

        def step():
            logits, feats = model(x)
            loss = loss_cfg["ce"] * F.cross_entropy(logits, y)
            loss = loss + loss_cfg["center"] * center(feats, y)
            loss = loss + loss_cfg["dls"] * torch.sum(-q * F.log_softmax(logits, dim=1), dim=1).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), optim_cfg["grad_clip"])
            opt.step()
            center.update(feats.detach(), y)

    res = measure(step, a.batch, a.warmup, a.seconds)
    res.update({"mode": a.mode, "batch": a.batch, "params": params, "gflops": 2 * macs[0] / 1e9,
                "threads": torch.get_num_threads(), "config": a.config, "framework": "pytorch " + torch.__version__,
                "memory_format": "channels_last" if a.channels_last else "contiguous"})
    report(res, a.json, f"{params} params, {2 * macs[0] / 1e9:.2f} GFLOPs/image, peak RSS {res['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
