"""The NAS-Bench-201 network in torch ("TinyNetwork" of the official code), built from a code or arch string.

Macro structure (Dong & Yang, ICLR 2020), C = 16, N = 5:

    stem      Conv3x3(C_in -> 16, no bias) + BN
    stage 1   5 cells, 16 channels, input resolution
    reduce    ResNetBasicblock(16 -> 32, stride 2)
    stage 2   5 cells, 32 channels, 1/2 resolution
    reduce    ResNetBasicblock(32 -> 64, stride 2)
    stage 3   5 cells, 64 channels, 1/4 resolution
    head      BN + ReLU, global average pooling, Linear(64 -> classes)

ResNetBasicblock(a -> b): conv_a = ReLU-Conv3x3(a->b, stride 2, no bias)-BN, conv_b = ReLU-Conv3x3(b->b)-BN,
shortcut = AvgPool2d(2, 2) + Conv1x1(a->b, no bias); output = shortcut + conv_b(conv_a(x)).

Cell: 4 nodes, node 0 = cell input, node i = sum of op(node j) over its incoming edges (spaces.nb201.EDGES),
output = node 3. Edge ops (all keep channels and resolution):
  none          zero: the edge is dropped (no module, no compute). A node whose incoming edges are all
                `none` is a zero tensor; the ops reading from it still run, exactly as in the official
                code (which computes x * 0 and feeds it on), so the cost of an edge never depends on the
                other edges.
  skip_connect  identity
  nor_conv_1x1  ReLU - Conv1x1(no bias) - BN(affine)
  nor_conv_3x3  ReLU - Conv3x3(pad 1, no bias) - BN(affine)
  avg_pool_3x3  AvgPool2d(3, stride 1, pad 1, count_include_pad=False)

Tasks (`DATASETS`):
  cifar10 (3,32,32; 10), cifar100 (3,32,32; 100), imagenet16_120 (3,16,16; 120): as in NAS-Bench-201.
  ninapro (1,52,16; 18) and darcy (1,88,88; 1): the models of HW-NAS-Bench-360 (public repository
      roldebijvank/HW-NAS-Bench-360, `config/pipeline_config.py` TASKS and `utils/model_utils.py`), whose
      latency/energy are in ../shared/nb201/hw360.parquet. HW-NAS-Bench-360 builds the official TinyNetwork
      (C=16, N=5) with `num_classes` set per task and the stem conv replaced by one with `input_shape[0]`
      input channels; nothing else changes. NinaPro EMG input is 1 x 52 x 16 with 18 classes. Darcy Flow
      input is the native NAS-Bench-360 1 x 85 x 85 field zero-padded to 1 x 88 x 88 (so both stride-2
      reductions line up) and the head is the unchanged classifier with ONE output (a scalar per input),
      not a dense 85 x 85 map. NAS-Bench-360 itself trained Darcy with a dense-output head; that head is
      not reproduced here (its exact form could not be established), so `darcy` costs and latencies match
      the HW-NAS-Bench-360 measured models, not NAS-Bench-360's trained ones.

Deviations from the official code, none of which changes outputs (up to float rounding), MACs or params:
`none` edges are skipped instead of multiplied by zero; skip_connect returns its input tensor; partial
sums are accumulated in place into fresh tensors.

`build_model` returns the model in eval mode (BN uses running statistics); call `.train()` to train it.
Weights use torch's default initialisation, so `torch.manual_seed(s)` before `build_model` makes it
deterministic.
"""
from __future__ import annotations


import numpy as np
import torch
from torch import nn

from core.errors import HarnessError
from spaces.nb201 import EDGES, NUM_NODES, OPS, format_arch, parse_arch
from spaces.nb201_geometry import (C_STEM, DATASETS, N_CELLS, STAGE_CHANNELS, DatasetSpec, dataset_spec,  # noqa: F401
                                    stage_resolutions)

def as_code(code_or_arch) -> np.ndarray:
    """Arch string or int vector -> validated code (length 6, entries in 0..4)."""
    if isinstance(code_or_arch, str):
        return parse_arch(code_or_arch)
    try:
        code = np.asarray(code_or_arch).reshape(-1)
    except Exception:  # noqa: BLE001 - anything that is not array-like
        raise HarnessError(f"arch {code_or_arch!r}: expected an arch string or a code of {NUM_NODES} ints") from None
    if code.dtype.kind not in "iu" and not (code.dtype.kind == "f" and np.all(code == np.round(code))):
        raise HarnessError(f"code {code_or_arch!r}: entries must be integers")
    code = code.astype(np.int64)
    format_arch(code)  # raises HarnessError for bad length or range
    return code


class ReLUConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int):
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=True, track_running_stats=True),
        )


class ResNetBasicblock(nn.Module):
    """The stride-2 reduction block between stages."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0),
            nn.Conv2d(c_in, c_out, kernel_size=1, stride=1, padding=0, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


def make_op(name: str, channels: int) -> nn.Module | None:
    """Module for one cell edge; None for `none` (no module)."""
    if name == "none":
        return None
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(channels, channels, 1, 1, 0)
    if name == "nor_conv_3x3":
        return ReLUConvBN(channels, channels, 3, 1, 1)
    if name == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise HarnessError(f"unknown op {name!r}; valid: {', '.join(OPS)}")


class InferCell(nn.Module):
    """One NAS-Bench-201 cell with a fixed architecture (stride 1, channels unchanged)."""

    def __init__(self, code: np.ndarray, channels: int):
        super().__init__()
        self.code = tuple(int(c) for c in code)
        self.layers = nn.ModuleList()
        # plan[node-1] = list of (layer index, source node) over the node's non-`none` edges
        plan: list[list[tuple[int, int]]] = [[] for _ in range(3)]
        for (to, src), op_idx in zip(EDGES, self.code):
            layer = make_op(OPS[op_idx], channels)
            if layer is None:
                continue
            plan[to - 1].append((len(self.layers), src))
            self.layers.append(layer)
        self.plan = tuple(tuple(p) for p in plan)
        self.channels = channels

    def extra_repr(self) -> str:
        return f"C={self.channels}, arch={format_arch(np.array(self.code))}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        layers = self.layers
        for edges in self.plan:
            if not edges:
                nodes.append(torch.zeros_like(x))
                continue
            (l0, s0), rest = edges[0], edges[1:]
            out = layers[l0](nodes[s0])
            if rest:
                l1, s1 = rest[0]
                out = out + layers[l1](nodes[s1])  # fresh tensor: safe to accumulate in place below
                for li, si in rest[1:]:
                    out += layers[li](nodes[si])
            nodes.append(out)
        return nodes[3]


class TinyNetwork(nn.Module):
    """NAS-Bench-201 network for one architecture code."""

    def __init__(self, code: np.ndarray, in_channels: int, num_classes: int):
        super().__init__()
        self.code = tuple(int(c) for c in code)
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, C_STEM, kernel_size=3, padding=1, bias=False), nn.BatchNorm2d(C_STEM)
        )
        cells: list[nn.Module] = []
        c_prev = C_STEM
        for stage, c in enumerate(STAGE_CHANNELS):
            if stage > 0:
                cells.append(ResNetBasicblock(c_prev, c))
            cells.extend(InferCell(code, c) for _ in range(N_CELLS))
            c_prev = c
        self.cells = nn.Sequential(*cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c_prev), nn.ReLU(inplace=True))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def extra_repr(self) -> str:
        return f"arch={format_arch(np.array(self.code))}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.lastact(self.cells(self.stem(x)))
        out = self.global_pooling(out).flatten(1)
        return self.classifier(out)


def build_model(code_or_arch, dataset: str) -> TinyNetwork:
    """The NAS-Bench-201 network for an arch string or code, shaped for `dataset` (see DATASETS); eval mode."""
    code = as_code(code_or_arch)
    spec = dataset_spec(dataset)
    stage_resolutions(spec.input_shape)  # validates the input shape
    return TinyNetwork(code, spec.input_shape[0], spec.num_classes).eval()


def count_macs_params(model: nn.Module, input_shape) -> tuple[int, int]:
    """(MACs, params) of `model` for ONE input of shape (C, H, W), measured on a real forward pass.

    MACs: forward hooks on every nn.Conv2d (C_out * H_out * W_out * C_in * kh * kw / groups) and
    nn.Linear (in_features * out_features per output row); bias additions, BN, ReLU, pooling and the
    sums of the cells are not counted. Params: sum of p.numel() over model.parameters() (BN weight and
    bias included; running statistics are buffers and are not counted).
    The model's train/eval mode is restored afterwards; no gradients are recorded. A model built under
    `torch.device("meta")` is counted from shapes alone (no weights initialised, no arithmetic).
    """
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 3:
        raise HarnessError(f"input shape {input_shape!r}: expected (C, H, W)")
    total = [0]

    def conv_hook(mod: nn.Conv2d, inputs, output):
        per_out = mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
        total[0] += int(output.numel()) // int(output.shape[0]) * per_out

    def linear_hook(mod: nn.Linear, inputs, output):
        total[0] += int(output.numel()) // int(output.shape[0]) * mod.in_features

    handles = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            handles.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            handles.append(m.register_forward_hook(linear_hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            device = next(model.parameters()).device  # a model built on "meta" counts without computing
            model(torch.zeros((1, *shape), device=device))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    params = sum(int(p.numel()) for p in model.parameters())
    return total[0], params
