"""The NAS-Bench-Macro network in torch (the benchmark's train/model.py, rewritten): for live measurement
(devices.local) and as the independent check of the exact costs of spaces.nasbench_macro.

stem conv3x3(32) + BN + ReLU -> 8 layers in stages [2, 3, 3] -> conv1x1(1280) + BN + ReLU -> global average
pool -> linear classifier. The first layer of each stage has stride 2 and doubles the channels; there the
identity choice is a 1x1 conv + BN projection, elsewhere it returns its input. The other choices are
MobileNetV2 inverted residual blocks (1x1 expand + BN + ReLU, k x k depthwise + BN + ReLU, 1x1 project + BN;
a residual sum where the shape is unchanged): ir_3x3_t3 (k 3, expansion 3), ir_5x5_t6 (k 5, expansion 6).

`spaces.nb201_model.count_macs_params(model, input_shape)` counts its conv + linear MACs with forward hooks
and its trainable parameters; tests check both equal `flops_macs`/`params_count` of the benchmark's rows.
Weights use torch's default initialisation (`torch.manual_seed` first for determinism); `build_model`
returns the model in eval mode.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from core.errors import HarnessError
from spaces.nasbench_macro import (HEAD_CHANNELS, INPUT_SHAPE, IR, NUM_CLASSES, STEM_CHANNELS, format_arch,
                                   layer_shapes, parse_arch)


def conv_bn(c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1, relu: bool = True) -> nn.Sequential:
    layers = [nn.Conv2d(c_in, c_out, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if relu else nn.Sequential(*layers)


class Identity(nn.Module):
    """The `id` choice: a 1x1 conv + BN projection where stride or width change, else the input itself."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.project = conv_bn(c_in, c_out, 1, stride, relu=False) if stride != 1 or c_in != c_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.project is None else self.project(x)


class InvertedResidual(nn.Module):
    """MobileNetV2 block: expand (1x1), depthwise k x k with the stride, project (1x1, linear)."""

    def __init__(self, c_in: int, c_out: int, stride: int, k: int, t: int):
        super().__init__()
        hidden = round(c_in * t)
        self.conv = nn.Sequential(conv_bn(c_in, hidden, 1), conv_bn(hidden, hidden, k, stride, groups=hidden),
                                  conv_bn(hidden, c_out, 1, relu=False))
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return out + x if self.residual else out


def make_layer(choice: int, c_in: int, c_out: int, stride: int) -> nn.Module:
    if choice == 0:
        return Identity(c_in, c_out, stride)
    k, t = IR[int(choice)]
    return InvertedResidual(c_in, c_out, stride, k, t)


class MacroNetwork(nn.Module):
    def __init__(self, code, num_classes: int):
        super().__init__()
        self.code = tuple(int(c) for c in code)
        self.stem = conv_bn(INPUT_SHAPE[0], STEM_CHANNELS, 3)
        shapes = layer_shapes()
        self.features = nn.Sequential(*[make_layer(c, c_in, c_out, stride)
                                        for c, (c_in, c_out, stride, _) in zip(self.code, shapes)])
        self.head = conv_bn(shapes[-1][1], HEAD_CHANNELS, 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(HEAD_CHANNELS, num_classes)

    def extra_repr(self) -> str:
        return f"arch={format_arch(np.array(self.code))}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.pool(self.head(self.features(self.stem(x))))
        return self.classifier(out.flatten(1))


def build_model(code_or_arch, dataset: str = "cifar10") -> MacroNetwork:
    """The network of an arch string or code (any of the 6,561: the layers as written), eval mode."""
    code = parse_arch(code_or_arch) if isinstance(code_or_arch, str) else parse_arch(format_arch(code_or_arch))
    if dataset not in NUM_CLASSES:
        raise HarnessError(f"NAS-Bench-Macro has no dataset {dataset!r}; it has {', '.join(NUM_CLASSES)}")
    return MacroNetwork(code, NUM_CLASSES[dataset]).eval()
