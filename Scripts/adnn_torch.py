#!/usr/bin/env python3
"""PyTorch reference implementation of the ADNN-FER assembly (SPEC §1), a development tool only.

Builds the network from the `model:` section of an adnn YAML config (a dict with the same keys and
defaults as `Config.Model` in Sources/ADNN/Config/Config.swift) with exactly adnn's checkpoint names,
so that `state_dict()` here and `Module.stateDict()` in adnn hold the same keys and shapes:

- `backbone.*`: timm `create_model(name, num_classes=0, global_pool='')` — EfficientNet (`conv_stem`,
  `bn1`, `blocks.{s}.{b}.*`, `conv_head`, `bn2`) or ResNet-50 (`conv1`, `bn1`, `layer1..4`);
- `cbam_stage.*` after EfficientNet stage index 4 (timm `blocks[4]`) or after ResNet `layer3`,
  `cbam_head.*` after the head conv + BN + activation; official CBAM semantics (Woo et al. 2018):
  `channel.fc1/fc2` shared MLP over avg- and max-pooled descriptors, summed, sigmoid;
  `spatial.conv` (2→1, k×k, no bias) + `spatial.bn` (momentum 0.01 as the official BasicConv) over
  concat[max over C, mean over C], sigmoid;
- `proj` (only when the head width ≠ d_model), `pos_embed` [1, h·w, d], `transformer.layers.{i}.*`
  (`nn.TransformerEncoderLayer(norm_first=True, activation="gelu", batch_first=True)`),
  `transformer.norm`, then mean over tokens → dropout → `head`;
- without a transformer: global average pool → dropout → `head`.

Used by Scripts/make_model_fixtures.py; nothing in adnn, its tests or CI runs Python.
"""
import copy
import json

import torch
import torch.nn as nn
import torch.nn.functional as F

MODEL_DEFAULTS = {
    "backbone": "efficientnet_b5",
    "in_chans": 3,
    "input_size": 224,
    "num_classes": 7,
    "drop_rate": 0.4,
    "drop_path_rate": 0.2,
    "cbam": {"stage": True, "head": True, "reduction": 16, "kernel_size": 7},
    "transformer": {"layers": 6, "heads": 8, "d_model": 2048, "d_ff": 4096, "dropout": 0.1},
    "pretrained": None,
}


def resolve_model_config(cfg):
    """The `model:` section with adnn's defaults filled in. Accepts a whole config ({"model": ...}),
    a model section, or a JSON string of either (the `config` metadata of an adnn checkpoint)."""
    if isinstance(cfg, str):
        cfg = json.loads(cfg)
    if "model" in cfg and isinstance(cfg["model"], dict):
        cfg = cfg["model"]
    out = copy.deepcopy(MODEL_DEFAULTS)
    for k, v in cfg.items():
        if k not in out:
            raise KeyError(f"unknown model config key '{k}'")
        if k in ("cbam", "transformer"):
            if v is None:
                out[k] = None
            else:
                sub = copy.deepcopy(MODEL_DEFAULTS[k])
                for kk, vv in v.items():
                    if kk not in sub:
                        raise KeyError(f"unknown model config key '{k}.{kk}'")
                    sub[kk] = vv
                out[k] = sub
        else:
            out[k] = v
    return out


def feature_side(input_size):
    """Side of the head feature map for a square input: five stride-2 stages, each ceil(s/2)."""
    s = input_size
    for _ in range(5):
        s = (s + 1) // 2
    return s


class ChannelGate(nn.Module):
    def __init__(self, channels, reduction):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def mlp(self, v):
        return self.fc2(F.relu(self.fc1(v)))

    def forward(self, x):  # x [N, C, H, W]
        avg = F.adaptive_avg_pool2d(x, 1).flatten(1)
        mx = F.adaptive_max_pool2d(x, 1).flatten(1)
        gate = torch.sigmoid(self.mlp(avg) + self.mlp(mx))
        return x * gate[:, :, None, None]


class SpatialGate(nn.Module):
    def __init__(self, kernel_size):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, stride=1, padding=(kernel_size - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(1, eps=1e-5, momentum=0.01, affine=True)

    def forward(self, x):
        pooled = torch.cat([x.max(dim=1, keepdim=True)[0], x.mean(dim=1, keepdim=True)], dim=1)
        return x * torch.sigmoid(self.bn(self.conv(pooled)))


class CBAM(nn.Module):
    def __init__(self, channels, reduction=16, kernel_size=7):
        super().__init__()
        self.channel = ChannelGate(channels, reduction)
        self.spatial = SpatialGate(kernel_size)

    def forward(self, x):
        return self.spatial(self.channel(x))


class ADNNFER(nn.Module):
    """ADNN-FER with adnn's parameter names; `forward` returns (logits, pooled feature)."""

    def __init__(self, cfg):
        super().__init__()
        import timm

        cfg = resolve_model_config(cfg)
        self.cfg = cfg
        name = cfg["backbone"]
        self.is_resnet = name == "resnet50"
        self.backbone = timm.create_model(name, pretrained=False, num_classes=0, global_pool="",
                                          in_chans=cfg["in_chans"], drop_path_rate=cfg["drop_path_rate"])
        if self.is_resnet:
            stage_channels, feat = 1024, 2048            # after layer3, after layer4
        else:
            stage_channels = self.backbone.blocks[4][-1].conv_pwl.out_channels
            feat = self.backbone.num_features
        cb = cfg["cbam"]
        self.cbam_stage = CBAM(stage_channels, cb["reduction"], cb["kernel_size"]) if cb and cb["stage"] else None
        self.cbam_head = CBAM(feat, cb["reduction"], cb["kernel_size"]) if cb and cb["head"] else None
        t = cfg["transformer"]
        if t:
            d = t["d_model"]
            self.proj = nn.Linear(feat, d) if feat != d else None
            side = feature_side(cfg["input_size"])
            self.pos_embed = nn.Parameter(torch.zeros(1, side * side, d))
            nn.init.trunc_normal_(self.pos_embed, std=0.02, a=-0.04, b=0.04)
            layer = nn.TransformerEncoderLayer(d, t["heads"], t["d_ff"], t["dropout"], activation="gelu",
                                               batch_first=True, norm_first=True)
            self.transformer = nn.TransformerEncoder(layer, t["layers"], norm=nn.LayerNorm(d),
                                                     enable_nested_tensor=False)
            head_in = d
        else:
            self.proj = None
            self.pos_embed = None
            self.transformer = None
            head_in = feat
        self.drop = nn.Dropout(cfg["drop_rate"])
        self.head = nn.Linear(head_in, cfg["num_classes"])

    def features(self, x):
        """Head feature map [N, C, h, w] with `cbam_stage` after stage index 4 / layer3."""
        b = self.backbone
        if self.is_resnet:
            x = b.maxpool(b.act1(b.bn1(b.conv1(x))))
            for i, layer in enumerate([b.layer1, b.layer2, b.layer3, b.layer4]):
                x = layer(x)
                if i == 2 and self.cbam_stage is not None:
                    x = self.cbam_stage(x)
            return x
        x = b.bn1(b.conv_stem(x))
        for i, stage in enumerate(b.blocks):
            x = stage(x)
            if i == 4 and self.cbam_stage is not None:
                x = self.cbam_stage(x)
        return b.bn2(b.conv_head(x))

    def forward(self, x):
        f = self.features(x)
        if self.cbam_head is not None:
            f = self.cbam_head(f)
        if self.transformer is not None:
            tokens = f.flatten(2).transpose(1, 2)          # [N, h·w, C], row-major over (h, w)
            if self.proj is not None:
                tokens = self.proj(tokens)
            assert tokens.shape[1] == self.pos_embed.shape[1], "input size differs from model.input_size"
            pooled = self.transformer(tokens + self.pos_embed).mean(dim=1)
        else:
            pooled = f.mean(dim=(2, 3))
        return self.head(self.drop(pooled)), pooled


def build(cfg):
    return ADNNFER(cfg)
