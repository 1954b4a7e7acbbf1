#!/usr/bin/env python3
"""Writes Tests/ADNNTests/Fixtures/retinaface/forward.safetensors: a PyTorch forward pass of
RetinaFace MobileNet-0.25 with ../shared/models/retinaface_mobilenet0.25_Final.pth on a random
45x70 BGR input (odd sizes exercise the rounded-up strides and nearest upsampling).

Usage: python3 Scripts/make_retinaface_fixture.py   (needs torch and safetensors; package root)

The network follows the public RetinaFace code (MobileNetV1 x0.25 body, FPN, SSH, heads) with
every LeakyReLU at slope 0, which is how the reference detections in
shared/data/faces/retinaface_expected.jsonl were produced (see RetinaFace.swift).
Tensors: x [1,H,W,3] (NHWC input), loc [1,A,4], conf [1,A,2] (softmax), landmarks [1,A,10].
"""
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(__file__), "..")
WEIGHTS = os.path.join(ROOT, "..", "shared", "models", "retinaface_mobilenet0.25_Final.pth")
OUT = os.path.join(ROOT, "Tests", "ADNNTests", "Fixtures", "retinaface", "forward.safetensors")
SLOPE = 0.0


def conv_bn(i, o, k=3, s=1, act=True):
    layers = [nn.Conv2d(i, o, k, s, k // 2, bias=False), nn.BatchNorm2d(o)]
    return nn.Sequential(*layers, nn.LeakyReLU(SLOPE)) if act else nn.Sequential(*layers)


def conv_dw(i, o, s):
    return nn.Sequential(nn.Conv2d(i, i, 3, s, 1, groups=i, bias=False), nn.BatchNorm2d(i), nn.LeakyReLU(SLOPE),
                         nn.Conv2d(i, o, 1, 1, 0, bias=False), nn.BatchNorm2d(o), nn.LeakyReLU(SLOPE))


class SSH(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv3X3 = conv_bn(c, c // 2, act=False)
        self.conv5X5_1 = conv_bn(c, c // 4)
        self.conv5X5_2 = conv_bn(c // 4, c // 4, act=False)
        self.conv7X7_2 = conv_bn(c // 4, c // 4)
        self.conv7x7_3 = conv_bn(c // 4, c // 4, act=False)

    def forward(self, x):
        b1 = self.conv5X5_1(x)
        return F.relu(torch.cat([self.conv3X3(x), self.conv5X5_2(b1), self.conv7x7_3(self.conv7X7_2(b1))], 1))


class FPN(nn.Module):
    def __init__(self):
        super().__init__()
        self.output1, self.output2, self.output3 = conv_bn(64, 64, 1), conv_bn(128, 64, 1), conv_bn(256, 64, 1)
        self.merge1, self.merge2 = conv_bn(64, 64), conv_bn(64, 64)

    def forward(self, c):
        o1, o2, o3 = self.output1(c[0]), self.output2(c[1]), self.output3(c[2])
        o2 = self.merge2(o2 + F.interpolate(o3, size=o2.shape[2:], mode="nearest"))
        o1 = self.merge1(o1 + F.interpolate(o2, size=o1.shape[2:], mode="nearest"))
        return [o1, o2, o3]


class Body(nn.Module):
    def __init__(self):
        super().__init__()
        self.stage1 = nn.Sequential(conv_bn(3, 8, s=2), conv_dw(8, 16, 1), conv_dw(16, 32, 2), conv_dw(32, 32, 1),
                                    conv_dw(32, 64, 2), conv_dw(64, 64, 1))
        self.stage2 = nn.Sequential(conv_dw(64, 128, 2), *[conv_dw(128, 128, 1) for _ in range(5)])
        self.stage3 = nn.Sequential(conv_dw(128, 256, 2), conv_dw(256, 256, 1))


class Head(nn.Module):
    def __init__(self, values):
        super().__init__()
        self.conv1x1 = nn.Conv2d(64, 2 * values, 1)
        self.values = values

    def forward(self, x):
        return self.conv1x1(x).permute(0, 2, 3, 1).reshape(x.shape[0], -1, self.values)


class RetinaFace(nn.Module):
    def __init__(self):
        super().__init__()
        self.body, self.fpn = Body(), FPN()
        self.ssh1, self.ssh2, self.ssh3 = SSH(64), SSH(64), SSH(64)
        self.ClassHead = nn.ModuleList([Head(2) for _ in range(3)])
        self.BboxHead = nn.ModuleList([Head(4) for _ in range(3)])
        self.LandmarkHead = nn.ModuleList([Head(10) for _ in range(3)])

    def forward(self, x):
        c1 = self.body.stage1(x)
        c2 = self.body.stage2(c1)
        p = self.fpn([c1, c2, self.body.stage3(c2)])
        f = [self.ssh1(p[0]), self.ssh2(p[1]), self.ssh3(p[2])]
        cat = lambda heads: torch.cat([h(t) for h, t in zip(heads, f)], 1)
        return cat(self.BboxHead), F.softmax(cat(self.ClassHead), -1), cat(self.LandmarkHead)


def main():
    net = RetinaFace()
    net.load_state_dict(torch.load(WEIGHTS, map_location="cpu"))
    net.eval()
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 3, 45, 70, generator=g) * 60
    with torch.no_grad():
        loc, conf, landmarks = net(x)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_file({"x": x.permute(0, 2, 3, 1).contiguous(), "loc": loc, "conf": conf, "landmarks": landmarks}, OUT)


if __name__ == "__main__":
    main()
