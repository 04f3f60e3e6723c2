"""Analytic NAS-Bench-201 block costs == MACs/params counted on the real torch network."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import HarnessError
from core.codes import product_codes
from spaces.nb201 import EDGES, NUM_OPS, OPS, format_arch
from spaces.nb201_costs import block_costs, flops_params_all
from spaces.nb201_model import DATASETS, build_model, count_macs_params

ALL_DATASETS = sorted(DATASETS)
SPECIAL = {
    "all_none": [0] * 6,
    "all_skip": [1] * 6,
    "all_conv1x1": [2] * 6,
    "all_conv3x3": [3] * 6,
    "all_pool": [4] * 6,
    "dead_output": [3, 3, 3, 0, 0, 0],  # node 3 has only `none` inputs: output zero, earlier convs still run
    "dead_node1": [0, 1, 3, 3, 3, 3],  # node 1 is zero, ops reading from it still run
}
# Random architectures per dataset ("a few hundred on each dataset").
N_RANDOM = {"cifar10": 250, "cifar100": 250, "imagenet16_120": 250, "ninapro": 150, "darcy": 150}


def _torch_count(code, dataset):
    torch.manual_seed(0)
    model = build_model(code, dataset)
    return count_macs_params(model, DATASETS[dataset].input_shape)


def _analytic(code, dataset):
    bc = block_costs(dataset)
    c = np.asarray(code)[None, :]
    return int(bc.flops(c)[0]), int(bc.params(c)[0])


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ALL_DATASETS)
def test_analytic_equals_torch_random(dataset):
    rng = np.random.default_rng(201 + ALL_DATASETS.index(dataset))
    codes = rng.integers(0, NUM_OPS, size=(N_RANDOM[dataset], 6))
    macs, params = flops_params_all(dataset, codes)
    for code, m, p in zip(codes, macs, params):
        assert _torch_count(code, dataset) == (int(m), int(p)), format_arch(code)


@pytest.mark.parametrize("dataset", ALL_DATASETS)
@pytest.mark.parametrize("name", sorted(SPECIAL))
def test_analytic_equals_torch_special(dataset, name):
    code = SPECIAL[name]
    assert _torch_count(code, dataset) == _analytic(code, dataset)


@pytest.mark.parametrize("dataset", ALL_DATASETS)
def test_const_is_the_all_none_network(dataset):
    bc = block_costs(dataset)
    assert _torch_count([0] * 6, dataset) == (bc.const_flops, bc.const_params)


@pytest.mark.parametrize("dataset", ALL_DATASETS)
def test_block_cost_structure(dataset):
    bc = block_costs(dataset)
    assert len(bc.block_flops) == len(bc.block_params) == len(EDGES)
    none, skip, c1, c3, pool = (OPS.index(o) for o in
                                ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"))
    for f, p in zip(bc.block_flops, bc.block_params):
        assert f.shape == p.shape == (NUM_OPS,)
        assert f[none] == p[none] == 0
        assert f[skip] == p[skip] == f[pool] == p[pool] == 0
        assert 0 < f[c1] < f[c3] and 0 < p[c1] < p[c3]
        assert int(np.argmax(f)) == c3 and int(np.argmax(p)) == c3
    assert bc.const_flops > 0 and bc.const_params > 0
    assert block_costs(dataset) is bc  # cached


def test_flops_params_all_is_additive():
    codes = product_codes([NUM_OPS] * 6)
    bc = block_costs("cifar10")
    macs, params = flops_params_all("cifar10", codes)
    assert macs.shape == params.shape == (codes.shape[0],)
    expect = bc.const_flops + sum(bc.block_flops[i][codes[:, i]] for i in range(6))
    np.testing.assert_array_equal(macs, expect)
    one_m, one_p = flops_params_all("cifar10", [3, 0, 1, 2, 4, 3])
    assert one_m.shape == (1,) and one_p.shape == (1,)


# Published NAS-Bench-201 (NAS-Bench-201-v1_1-096897) `params` (M) and `flop` (M) ranges over the 15,625
# architectures. Their `flop` adds the classifier bias (num_classes) to our MACs, and is rounded to 1e-5 M.
PUBLISHED = {
    "cifar10": dict(params=(0.073306, 1.531546), flop=(7.78305, 220.11969)),
    "cifar100": dict(params=(0.079156, 1.537396), flop=(7.7889, 220.12554)),
    "imagenet16_120": dict(params=(0.080456, 1.538696), flop=(1.9534, 55.03756)),
}


@pytest.mark.parametrize("dataset", sorted(PUBLISHED))
def test_matches_published_nb201_ranges(dataset):
    macs, params = flops_params_all(dataset, product_codes([NUM_OPS] * 6))
    pub = PUBLISHED[dataset]
    bias = DATASETS[dataset].num_classes
    assert (params.min() / 1e6, params.max() / 1e6) == pytest.approx(pub["params"], abs=1e-9)
    got_flop = ((macs.min() + bias) / 1e6, (macs.max() + bias) / 1e6)
    assert got_flop == pytest.approx(pub["flop"], abs=0.6e-5)


@pytest.mark.parametrize("dataset", ALL_DATASETS)
def test_forward_shape(dataset):
    spec = DATASETS[dataset]
    torch.manual_seed(1)
    model = build_model("|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|",
                        dataset)
    assert not model.training
    with torch.no_grad():
        out = model(torch.randn(2, *spec.input_shape))
    assert out.shape == (2, spec.num_classes)
    assert torch.isfinite(out).all()


def _reference_cell(cell, code, x):
    """Official semantics: every edge runs, `none` is x * 0; node i = sum of its incoming edges."""
    layers = iter(cell.layers)
    ops = {}
    for (to, src), op in zip(EDGES, code):
        ops[(to, src)] = None if OPS[op] == "none" else next(layers)
    nodes = [x]
    for to in (1, 2, 3):
        terms = []
        for src in range(to):
            layer = ops[(to, src)]
            terms.append(nodes[src].mul(0.0) if layer is None else layer(nodes[src]))
        nodes.append(sum(terms))
    return nodes[3]


@pytest.mark.slow
def test_skipping_none_matches_official_semantics():
    torch.manual_seed(3)
    rng = np.random.default_rng(3)
    for code in [rng.integers(0, NUM_OPS, 6) for _ in range(6)] + [np.array(SPECIAL["dead_node1"])]:
        model = build_model(code, "imagenet16_120")
        for m in model.modules():  # non-trivial BN statistics, so BN(0) != 0
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.uniform_(-0.5, 0.5)
        x = torch.randn(2, *DATASETS["imagenet16_120"].input_shape)
        with torch.no_grad():
            got = model(x)
            h = model.stem(x)
            for cell in model.cells:
                h = _reference_cell(cell, code, h) if hasattr(cell, "plan") else cell(h)
            ref = model.classifier(model.global_pooling(model.lastact(h)).flatten(1))
        torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)


def test_deterministic_init_and_arch_string():
    code = [3, 2, 4, 1, 0, 3]
    torch.manual_seed(7)
    a = build_model(code, "cifar10").state_dict()
    torch.manual_seed(7)
    b = build_model(format_arch(code), "cifar10").state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_count_restores_mode():
    model = build_model([3] * 6, "cifar10").train()
    count_macs_params(model, (3, 32, 32))
    assert model.training


@pytest.mark.parametrize("bad", ["mnist", "CIFAR10", None])
def test_unknown_dataset(bad):
    with pytest.raises(HarnessError, match="unknown dataset"):
        block_costs(bad)
    with pytest.raises(HarnessError, match="unknown dataset"):
        build_model([0] * 6, bad)


@pytest.mark.parametrize("bad", [[0] * 5, [0, 1, 2, 3, 4, 5], [-1, 0, 0, 0, 0, 0], "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|"])
def test_bad_arch(bad):
    with pytest.raises(HarnessError):
        build_model(bad, "cifar10")


def test_flops_params_all_bad_codes():
    with pytest.raises(HarnessError):
        flops_params_all("cifar10", [[0, 1, 2, 3, 4]])
    with pytest.raises(HarnessError):
        flops_params_all("cifar10", [[0, 1, 2, 3, 4, 5]])
