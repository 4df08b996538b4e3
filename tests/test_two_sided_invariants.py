"""Invariants of the two-sided datapaths on random conv layers (strides, padding, dilation, groups):
the MACs they issue are the exact intersection count of the masks (computed two independent ways),
and removing nonzeros never costs cycles."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from accelsim.sim.dataflows.scnn import scnn_compute
from accelsim.sim.dataflows.sparten import im2col, sparten_compute
from accelsim.spec.config import read_yaml
from accelsim.spec.hardware import HW_DIR, hardware_from_dict
from accelsim.workload.layer import ConvShape, Layer


def _hw(name, **pe):
    raw = read_yaml(HW_DIR / f"{name}.yaml")
    for key, value in pe.items():
        if isinstance(value, dict):
            raw["pe_array"][key].update(value)
        else:
            raw["pe_array"][key] = value
    return hardware_from_dict(raw, f"{name}.yaml")


_SMALL = {"f": 2, "i": 3, "banks": 8, "bank_entries": 4}
SCNN = _hw("scnn_like", rows=2, cols=2, cartesian={**_SMALL, "weight_fifo": 3})
# one FIFO-full per output group: cuts regroup channels as weights go, which need not be monotone
SCNN_ONE_CUT = _hw("scnn_like", rows=2, cols=2, cartesian={**_SMALL, "weight_fifo": 10_000})
SPARTEN = _hw("sparten_like", rows=3, cols=2, inner_join={"chunk": 16, "balance": "none"})


@st.composite
def conv_layers(draw):
    g = draw(st.integers(1, 2))
    cg, kg = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    r, s = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sy, sx = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    dy, dx = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    py, px = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    h = draw(st.integers(dy * (r - 1) + 1, 7))
    w = draw(st.integers(dx * (s - 1) + 1, 7))
    b = draw(st.integers(1, 2))
    oh, ow = (h + 2 * py - dy * (r - 1) - 1) // sy + 1, (w + 2 * px - dx * (s - 1) - 1) // sx + 1
    seed = draw(st.integers(0, 2**31))
    rng = np.random.default_rng(seed)
    acts = rng.random((b, g * cg, h, w)) < rng.uniform(0.2, 0.9)
    weights = rng.random((g * kg, cg, r, s)) < rng.uniform(0.2, 0.9)
    conv = ConvShape(b, g * cg, g * kg, h, w, oh, ow, r, s, sy, sx, py, px, dy, dx, g)
    return Layer("L", "conv", b * oh * ow, kg, cg * r * s, groups=g, weight_mask=weights, conv=conv), acts


def _with_mask(layer, acts, weights=None):
    out = Layer(layer.name, layer.kind, layer.m, layer.n, layer.k, groups=layer.groups,
                weight_mask=layer.weight_mask if weights is None else weights, conv=layer.conv)
    object.__setattr__(out, "input_mask", acts)
    return out


@settings(max_examples=40, deadline=None)
@given(conv_layers())
def test_issued_macs_are_the_exact_intersection_count(case):
    layer, acts = case
    layer = _with_mask(layer, acts)
    exact = int(np.einsum("gmk,gkn->", im2col(layer, acts).astype(np.int64),
                          layer.gemm_weight_mask().astype(np.int64)))
    assert scnn_compute(layer, SCNN).macs_issued == exact
    assert sparten_compute(layer, SPARTEN).macs_issued == exact


@settings(max_examples=30, deadline=None)
@given(conv_layers(), st.integers(0, 2**31))
def test_fewer_nonzeros_never_cost_cycles(case, seed):
    layer, acts = case
    rng = np.random.default_rng(seed)
    fewer_acts = acts & (rng.random(acts.shape) < 0.7)
    fewer_w = layer.weight_mask & (rng.random(layer.weight_mask.shape) < 0.7)
    full, sparse = _with_mask(layer, acts), _with_mask(layer, fewer_acts, fewer_w)
    scnn_full, scnn_sparse = scnn_compute(full, SCNN_ONE_CUT), scnn_compute(sparse, SCNN_ONE_CUT)
    # bank conflicts walked for every unit (a sampled ratio is an estimate, monotone only on average)
    assume("every unit walked" in scnn_full.notes[1] and "every unit walked" in scnn_sparse.notes[1])
    assert scnn_sparse.compute_cycles <= scnn_full.compute_cycles
    assert sparten_compute(sparse, SPARTEN).compute_cycles <= sparten_compute(full, SPARTEN).compute_cycles
