"""Row stationary (sim/dataflows/row_stationary*.py): a small conv worked by hand, a loop-level walk
of the schedule that computes the convolution and counts every access, the mapper's constraints,
and the stage in the pipeline."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim import load_hardware, simulate
from accelsim.errors import AccelsimError, ConfigError
from accelsim.sim.dataflows.row_stationary import (
    ConvProblem,
    RSArray,
    candidates,
    counts,
    mapping_of,
)
from accelsim.sim.dataflows.row_stationary_compute import conv_problem, row_stationary_compute
from accelsim.sim.dataflows.row_stationary_eyeriss import alexnet_conv_layers
from accelsim.sim.dataflows.row_stationary_memory import blocking
from accelsim.workload.layer import ConvShape, Layer, Workload

# 1 image, 2 channels, 2 filters of 3 x 3 on a 5 x 5 ifmap (3 x 3 ofmap) on a 3 x 3 array
SMALL = ConvProblem(n=1, c=2, m=2, r=3, s=3, e=3, f=3, h=5, w=5)
SMALL_ARRAY = RSArray(rows=3, cols=3, ifmap_words=6, filter_words=36, psum_words=4)


def test_small_conv_by_hand():
    """One 3 x 3 set (filter rows x ofmap rows), one filter and one channel per PE: 2 filter passes x
    2 channel passes.  A pass: each PE loads its 3 filter weights (3 cycles), then for each of the 3
    ofmap columns does 3 MACs and adds the psum from below (4 cycles): 15 cycles; 4 passes = 60."""
    mp = mapping_of(SMALL, SMALL_ARRAY, e=3, p=1, q=1, r=1, t=1)
    assert (mp.passes, mp.active_pes, mp.filter_passes, mp.channel_passes) == (4, 9, 2, 2)
    n = counts(SMALL, mp)
    assert n.cycles == 4 * (3 + 3 * (3 + 1)) == 60
    assert n.macs == 324
    # buffer: a pass reads its channel's 5 x 5 ifmap once (multicast along the diagonals), its filter's
    # 3 x 3 weights, writes 3 x 3 psums; the second channel pass of each filter reads them back first
    assert n.glb_reads == {"inputs": 4 * 25, "weights": 4 * 9, "outputs": 2 * 9}
    assert n.glb_writes == {"outputs": 4 * 9}
    # hops: each of the 9 PEs gets its 5-value ifmap row; a filter row goes to the 3 PEs of its row;
    # psums: 2 climb per column per pass, + 1 read back into the bottom PE on the second channel pass
    assert n.hops == {"inputs": 4 * 45, "weights": 4 * 27, "outputs": 2 * (18 + 18 + 9)}
    # scratchpads: an ifmap value is read once per tap (p = 1 filter), a weight per MAC, a psum
    # read and written per MAC and per sum added
    assert n.spad_reads == {"inputs": 324, "weights": 324, "outputs": 324 + 90}
    assert n.spad_writes == {"inputs": 180, "weights": 108, "outputs": 324 + 90}


def test_small_conv_dram_by_hand():
    """A buffer that holds both filters' psums reads everything once; 45 words hold one filter's
    psums (9) and a slice (25 ifmap + 9 filter words) but not two: the ifmap is read twice."""
    mp = mapping_of(SMALL, SMALL_ARRAY, e=3, p=1, q=1, r=1, t=1)
    ones = dict.fromkeys(("inputs", "weights", "outputs"), 1.0)
    big = blocking(SMALL, mp, 1000, 1.0, ones, copies=1)
    assert (big.m_glb, big.dram_words) == (2, {"inputs": 50, "weights": 36, "outputs": 18})
    small = blocking(SMALL, mp, 45, 1.0, ones, copies=1)
    assert (small.m_glb, small.filter_blocks, small.dram_words) == (1, 2, {"inputs": 100, "weights": 36,
                                                                            "outputs": 18})
    with pytest.raises(AccelsimError, match="global buffer"):
        blocking(SMALL, mp, 40, 1.0, ones, copies=1)


def test_filters_kept_across_the_blocks_passes():
    """With 2 passes per filter load (reuse), the filter deliveries and preload cycles halve."""
    prob = ConvProblem(n=2, c=1, m=1, r=3, s=3, e=3, f=3, h=5, w=5)
    mp = mapping_of(prob, SMALL_ARRAY, e=3, p=1, q=1, r=1, t=1)
    one, two = counts(prob, mp, 1), counts(prob, mp, 2)
    assert one.hops["weights"] == 2 * two.hops["weights"] == 2 * 27
    assert one.cycles - two.cycles == 3  # one 3-cycle preload saved


def _walk(prob: ConvProblem, mp, x: np.ndarray, w: np.ndarray):
    """The schedule loop by loop: every pass, PE, column, channel, tap and filter; returns the ofmap
    and the counts ``counts`` gives in closed form."""
    out = np.zeros((prob.n, prob.m, prob.e, prob.f))
    glb_r, glb_w = dict.fromkeys(("inputs", "weights", "outputs"), 0), {"outputs": 0}
    hops, sp_r, sp_w = ({k: 0 for k in ("inputs", "weights", "outputs")} for _ in range(3))
    cycles = 0
    acc = int(mp.chunk_rows * mp.r > 1 or mp.channel_passes > 1 or mp.row_chunks > 1)
    chunks = [range(i, min(prob.r, i + mp.chunk_rows)) for i in range(0, prob.r, mp.chunk_rows)]
    loops = (range(prob.n), range(0, prob.m, mp.p * mp.t), range(0, prob.e, mp.e))
    for img, f0, j0 in itertools.product(*loops):
        filters = list(range(f0, min(prob.m, f0 + mp.p * mp.t)))
        orows = list(range(j0, min(prob.e, j0 + mp.e)))
        first = True
        for c0, rows in itertools.product(range(0, prob.c, mp.q * mp.r), chunks):
            chans = list(range(c0, min(prob.c, c0 + mp.q * mp.r)))
            pu = -(-len(filters) // min(mp.t, -(-len(filters) // mp.p)))
            qu = -(-len(chans) // min(mp.r, -(-len(chans) // mp.q)))
            fsets = [filters[i:i + pu] for i in range(0, len(filters), pu)]
            csets = [chans[i:i + qu] for i in range(0, len(chans), qu)]
            psum = np.zeros((len(filters), len(orows), prob.f))
            if not first:
                glb_r["outputs"] += psum.size
                hops["outputs"] += psum.size  # into the bottom PE of each chain
                sp_r["outputs"] += psum.size
                sp_w["outputs"] += psum.size
            in_rows, weights = set(), set()
            busiest = 0
            for fs, cs in itertools.product(fsets, csets):
                for i, j in itertools.product(rows, range(len(orows))):
                    h = prob.u * orows[j] + i
                    cols = sorted({prob.u_w * x_ + s for x_ in range(prob.f) for s in range(prob.s)})
                    for ch in cs:
                        in_rows.add((ch, h))
                        hops["inputs"] += len(cols)
                        sp_w["inputs"] += len(cols)
                        for f in fs:
                            weights.add((f, ch, i))
                            hops["weights"] += prob.s
                            sp_w["weights"] += prob.s
                    pe_cycles = len(fs) * len(cs) * prob.s  # preload
                    for x_ in range(prob.f):
                        for ch, s in itertools.product(cs, range(prob.s)):
                            v = x[img, ch, h, prob.u_w * x_ + s]
                            sp_r["inputs"] += 1
                            for f in fs:
                                sp_r["weights"] += 1
                                sp_r["outputs"] += 1
                                sp_w["outputs"] += 1
                                psum[filters.index(f), j, x_] += w[f, ch, i, s] * v
                                pe_cycles += 1
                        pe_cycles += len(fs) * acc
                    busiest = max(busiest, pe_cycles)
            chain = len(rows) * len(csets)  # PEs whose psums are summed up one column
            climbs = psum.size * (chain - 1)
            hops["outputs"] += climbs
            sp_r["outputs"] += climbs
            sp_w["outputs"] += climbs
            glb_r["inputs"] += len(in_rows) * len(cols)
            glb_r["weights"] += len(weights) * prob.s
            glb_w["outputs"] += psum.size
            cycles += busiest
            out[img, filters[0]:filters[-1] + 1, orows[0]:orows[-1] + 1] += psum
            first = False
    return out, {"cycles": cycles, "glb_reads": glb_r, "glb_writes": glb_w, "hops": hops,
                 "spad_reads": sp_r, "spad_writes": sp_w}


def _conv(x: np.ndarray, w: np.ndarray, u: int, u_w: int, e: int, f: int) -> np.ndarray:
    r, s = w.shape[2:]
    out = np.zeros((x.shape[0], w.shape[0], e, f))
    for i, j in itertools.product(range(e), range(f)):
        out[:, :, i, j] = np.einsum("nchw,mchw->nm", x[:, :, i * u:i * u + r, j * u_w:j * u_w + s], w)
    return out


@st.composite
def _cases(draw):
    r, s = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    u = draw(st.integers(1, 2))
    e, f = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    prob = ConvProblem(n=draw(st.integers(1, 2)), c=draw(st.integers(1, 5)), m=draw(st.integers(1, 6)),
                       r=r, s=s, e=e, f=f, u=u, u_w=u, h=(e - 1) * u + r, w=(f - 1) * u + s)
    arr = RSArray(rows=draw(st.integers(2, 6)), cols=draw(st.integers(1, 5)),
                  ifmap_words=draw(st.integers(s, 8)), filter_words=draw(st.integers(s, 40)),
                  psum_words=draw(st.integers(1, 4)))
    c = candidates(prob, arr)
    if not len(c["e"]):
        return prob, arr, None
    i = draw(st.integers(0, len(c["e"]) - 1))
    return prob, arr, mapping_of(prob, arr, *(int(c[k][i]) for k in "epqrt"))


@settings(max_examples=60, deadline=None)
@given(_cases())
def test_walk_computes_the_conv_and_matches_the_counts(case):
    """Brute force: the loop-level walk of any valid mapping (ragged blocks, strips, row chunks,
    strides) computes the convolution, and every count equals the closed form."""
    prob, arr, mp = case
    if mp is None:
        return
    rng = np.random.default_rng(0)
    x = rng.integers(-3, 4, (prob.n, prob.c, prob.h, prob.w)).astype(float)
    w = rng.integers(-3, 4, (prob.m, prob.c, prob.r, prob.s)).astype(float)
    out, walked = _walk(prob, mp, x, w)
    np.testing.assert_array_equal(out, _conv(x, w, prob.u, prob.u_w, prob.e, prob.f))
    n = counts(prob, mp)
    assert {k: getattr(n, k) for k in walked} == walked
    assert n.macs == prob.macs


@settings(max_examples=40, deadline=None)
@given(_cases())
def test_every_candidate_fits_the_array_and_scratchpads(case):
    prob, arr, _ = case
    c = candidates(prob, arr)
    for e, p, q, r, t in zip(*(c[k] for k in "epqrt"), strict=True):
        mp = mapping_of(prob, arr, int(e), int(p), int(q), int(r), int(t))
        assert q * prob.s <= arr.ifmap_words and p * q * prob.s <= arr.filter_words and p <= arr.psum_words
        assert mp.block_rows * r <= arr.rows * (1 if t == 1 else arr.rows)  # r sets stacked in columns
        assert mp.active_pes <= arr.rows * arr.cols


def _hw(**changes):
    hw = load_hardware("eyeriss_v1", changes)
    return hw


def test_alexnet_mappings_use_the_array_like_eyeriss():
    """CONV1 gets Eyeriss's own mapping (JSSC 2017: 11 x 7 sets, two side by side for different
    filters, 16 filters x 1 channel per PE: 154 PEs); the others use at least the PEs the paper's
    mappings do (135 for CONV2's 5 x 27 set, 156 for four 3 x 13 sets)."""
    hw = _hw()
    layers = alexnet_conv_layers()
    traces = {layer.name: row_stationary_compute(layer, hw) for layer in layers}
    notes = {name: t.notes[0] for name, t in traces.items()}
    assert notes["CONV1"].startswith("row stationary: 11 x 7 sets, r=1 x t=2 sets (154 PEs), p=16 filters"
                                     " x q=1 channels")
    for name, pes in (("CONV2", 135), ("CONV3", 156), ("CONV4", 156), ("CONV5", 156)):
        used = int(notes[name].split(" PEs)")[0].split("(")[-1])
        assert pes <= used <= 168
    for layer in layers:  # every slot issued: time is not saved by gating
        t = traces[layer.name]
        assert t.macs_issued == layer.macs
        assert t.macs_gated == round(layer.macs * (1 - layer.activation_density))


def test_gating_saves_energy_not_time():
    layer = alexnet_conv_layers()[3]
    gate, none = _hw(), _hw(**{"sparsity.inputs.skip": "none"})
    a, b = row_stationary_compute(layer, gate), row_stationary_compute(layer, none)
    assert a.compute_cycles == b.compute_cycles and a.macs_gated > 0 == b.macs_gated
    spad = {x.component: x.count for x in a.array_actions if x.action == "rf_access"}
    dense = {x.component: x.count for x in b.array_actions if x.action == "rf_access"}
    assert spad["filter_spad"] == dense["filter_spad"] - a.macs_gated
    assert spad["psum_spad"] == dense["psum_spad"] - 2 * a.macs_gated
    assert spad["ifmap_spad"] == dense["ifmap_spad"]


def test_linear_layer_runs_as_a_1x1_conv():
    layer = Layer("fc", "linear", m=4, n=10, k=30, weight_mask=np.ones((10, 30), bool))
    prob = conv_problem(layer)
    assert (prob.n, prob.c, prob.m, prob.r, prob.e) == (4, 30, 10, 1, 1)
    report = simulate(_hw(), Workload("fc", (layer,)))
    assert report.layers[0].macs_dense == 1200 and report.layers[0].total_cycles > 0


def test_pipeline_reports_the_blocking_and_traffic():
    """End to end: the report carries the mapping note, the global-buffer blocking, and DRAM traffic
    equal to the blocking's words at their stored size."""
    layer = alexnet_conv_layers()[2]
    report = simulate(_hw(), Workload("conv3", (layer,)))
    lr = report.layers[0]
    assert lr.notes[0].startswith("row stationary:")
    assert lr.mapping.dataflow == "row_stationary" and "global buffer holds" in lr.mapping.notes[0]
    weights = 384 * 256 * 9 * 2  # bytes, dense 16-bit
    reads = lr.memory.by_level["dram"]["weights"]["read_data_bytes"]
    assert reads % weights == 0 and reads // weights == lr.mapping.tiles_m  # once per image/row block
    # the ofmap once, at its stored (RLC-coded) size: no psum leaves the chip
    assert lr.storage["outputs"].dense_bits == 4 * 384 * 13 * 13 * 16
    assert lr.dram_write_bytes == -(-lr.storage["outputs"].total_bits // 8)
    assert lr.total_cycles >= lr.compute_cycles >= lr.macs_dense / 168


@pytest.mark.parametrize("change,match", [
    ({"sparsity.weights": {"format": "dense", "skip": "gate"}}, "sparsity.weights.skip"),
    ({"sparsity.inputs.skip": "skip"}, "gates zero activations"),
    ({"timing": "accelsim"}, "timing"),
    ({"memories[0].holds": ["weights"]}, "scratchpad"),
])
def test_what_a_row_stationary_array_refuses(change, match):
    with pytest.raises(ConfigError, match=match):
        load_hardware("eyeriss_v1", change)


def test_a_filter_row_wider_than_the_ifmap_scratchpad_is_an_error():
    shape = ConvShape(1, 3, 8, 227, 227, 55, 55, 11, 11, 4, 4)
    layer = Layer("c1", "conv", m=55 * 55, n=8, k=363, conv=shape)
    with pytest.raises(AccelsimError, match="ifmap scratchpad"):
        row_stationary_compute(layer, _hw(**{"memories[0].size": "16 B"}))


@settings(max_examples=40, deadline=None)
@given(_cases(), st.integers(30, 400), st.integers(1, 400))
def test_a_larger_buffer_never_moves_more_dram_words(case, words, more):
    """For a fixed mapping, every blocking that fits a buffer fits a larger one; at least the
    compulsory traffic (each ifmap, weight and ofmap word once) always moves."""
    prob, _, mp = case
    if mp is None:
        return
    ones = dict.fromkeys(("inputs", "weights", "outputs"), 1.0)
    try:
        small = blocking(prob, mp, words, 1.0, ones, copies=1)
    except AccelsimError:
        return
    large = blocking(prob, mp, words + more, 1.0, ones, copies=1)
    assert sum(large.dram_words.values()) <= sum(small.dram_words.values())
    assert large.dram_words["weights"] >= prob.m * prob.c * prob.r * prob.s
    assert large.dram_words["outputs"] == prob.n * prob.m * prob.e * prob.f
