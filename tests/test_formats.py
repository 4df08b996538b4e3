"""Sparse formats: every bit count against a brute-force encoder, the worked example of
reference/sparsity.md section 4, and storage_of on layers."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.sim.formats import SPARSE_FORMATS, Geometry, get_format
from accelsim.sim.formats.kernels import block_counts, group_max, rle_counts
from accelsim.sim.storage import input_storage, storage_of, weight_fibers, weight_storage
from accelsim.spec.hardware import OperandSparsity, SparseSupport, load_hardware
from accelsim.workload.layer import ConvShape, Layer

# ---------------------------------------------------------------- brute-force encoders


def clog2(x: int) -> int:
    return math.ceil(math.log2(x)) if x > 1 else 0


def brute_bitmask(mask, w):
    return int(mask.sum()) * w, mask.size, 0


def brute_csr(mask, w):
    f, length = mask.shape
    nnz = int(mask.sum())
    return nnz * w, (f + 1) * math.ceil(math.log2(nnz + 1)) + nnz * clog2(length), 0


def brute_coo(mask, w):
    f, length = mask.shape
    nnz = int(mask.sum())
    return nnz * w, nnz * (clog2(f) + clog2(length)), 0


def rle_encode(stream, r):
    """Explicit (run, value) entries: a run may say at most 2^r - 1 zeros; value None = padding."""
    entries, run = [], 0
    for v in stream:
        if v:
            entries.append((run, 1))
            run = 0
        else:
            if run == (1 << r) - 1:  # the run counter is full and this is one more zero: pad
                entries.append((run, None))
                run = 0
            else:
                run += 1
    return entries


def brute_rle(mask, w, r):
    entries = rle_encode(mask.ravel().tolist(), r)
    # a padding entry emitted for zeros after the last nonzero is not needed (shape is known)
    while entries and entries[-1][1] is None:
        entries.pop()
    pad = sum(1 for _, v in entries if v is None)
    return len(entries) * w, len(entries) * r, pad


def brute_nm(mask, w, n, m, encoding):
    f, length = mask.shape
    groups = f * math.ceil(length / m)
    meta = groups * (n * clog2(m) if encoding == "positional" else clog2(math.comb(m, n)))
    return groups * n * w, meta, groups * n - int(mask.sum())


def brute_block(mask, w, br, bc):
    f, length = mask.shape
    blocks = values = 0
    for r0 in range(0, f, br):
        for c0 in range(0, length, bc):
            blk = mask[r0:r0 + br, c0:c0 + bc]
            if blk.any():
                blocks += 1
                values += blk.size
    meta = blocks * clog2(math.ceil(length / bc)) + (math.ceil(f / br) + 1) * math.ceil(math.log2(blocks + 1))
    return values * w, meta, values - int(mask.sum())


def windows(mask, rs, c):
    f = mask.shape[0]
    return [mask[i, [p * c + ch for p in range(rs)]] for i in range(f) for ch in range(c)]


def brute_window(mask, w, rs, c, encoding):
    ws = windows(mask, rs, c)
    m = max(int(x.sum()) for x in ws)
    per = clog2(math.comb(rs, m)) if encoding == "minimal" else m * clog2(rs)
    return len(ws) * m * w, len(ws) * per, len(ws) * m - int(mask.sum())


def brute_channel(mask, w, rs, c):
    ws = windows(mask, rs, c)
    kept = sum(1 for x in ws if x.any())
    return kept * rs * w, len(ws), kept * rs - int(mask.sum())


def rle(run_bits):
    return get_format("rle", {"run_bits": run_bits})


def random_mask(rng, shape, density):
    return rng.random(shape) < density


# ---------------------------------------------------------------- against brute force

SHAPES = [(1, 1), (3, 7), (16, 36), (64, 576), (5, 9 * 6)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("density", [0.0, 0.05, 0.3, 0.7, 1.0])
def test_general_formats_match_brute_force(shape, density):
    rng = np.random.default_rng(hash((shape, density)) % 2**32)
    mask = random_mask(rng, shape, density)
    g = Geometry()
    for w in (8, 16):
        assert get_format("dense").bits(mask, w, g) == (mask.size * w, 0, 0)
        assert get_format("bitmask").bits(mask, w, g) == brute_bitmask(mask, w)
        assert get_format("csr").bits(mask, w, g) == brute_csr(mask, w)
        assert get_format("coo").bits(mask, w, g) == brute_coo(mask, w)
        for r in (1, 2, 4, 5):
            assert rle(r).bits(mask, w, g) == brute_rle(mask, w, r)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, 40), st.floats(0.0, 1.0), st.integers(0, 2**31 - 1),
       st.integers(1, 6))
def test_rle_random_against_encoder(f, length, density, seed, r):
    mask = random_mask(np.random.default_rng(seed), (f, length), density)
    assert rle(r).bits(mask, 8, Geometry()) == brute_rle(mask, 8, r)


def test_rle_padding_on_hand_built_runs():
    # gaps before the nonzeros: 0, 15, 16, 31, 32, 40 zeros; then 100 trailing zeros (free)
    stream = []
    for gap in (0, 15, 16, 31, 32, 40):
        stream += [0] * gap + [1]
    stream += [0] * 100
    mask = np.array(stream, bool)[None, :]
    data, meta, pad = rle(4).bits(mask, 8, Geometry())
    assert pad == 0 + 0 + 1 + 1 + 2 + 2  # floor(gap / 16)
    assert (meta, data) == ((6 + pad) * 4, (6 + pad) * 8)
    assert rle_counts(mask.view(np.uint8).ravel(), 4) == (6, 6)
    # runs carry across fiber boundaries: the same stream cut into fibers costs the same
    cut = np.array(stream[:len(stream) - len(stream) % 10], bool).reshape(-1, 10)
    assert rle(4).bits(cut, 8, Geometry())[2] == pad


@pytest.mark.parametrize("n,m", [(2, 4), (1, 4), (2, 8), (4, 4), (1, 2)])
@pytest.mark.parametrize("encoding", ["positional", "minimal"])
def test_nm_matches_brute_force(n, m, encoding):
    rng = np.random.default_rng(n * 10 + m)
    f, groups = 6, 12
    mask = np.zeros((f, groups * m), bool)
    for i in range(f):
        for g in range(groups):
            keep = rng.choice(m, size=rng.integers(0, n + 1), replace=False)
            mask[i, g * m + keep] = True
    g = Geometry(channels=groups * m)
    fmt = get_format("nm", {"nm": (n, m), "nm_encoding": encoding})
    assert fmt.fit_problem(mask, g) is None
    assert fmt.bits(mask, 8, g) == brute_nm(mask, 8, n, m, encoding)


def test_nm_2of4_metadata_shares_and_fit():
    mask = np.tile(np.array([1, 0, 1, 0], bool), (4, 16))  # exactly 2:4
    g, nm = Geometry(channels=64), get_format("nm", {"nm": (2, 4)})
    data, meta, pad = nm.bits(mask, 8, g)
    assert meta / data == 0.25 and pad == 0  # 2 bits per kept int8 value
    assert nm.bits(mask, 16, g)[1] / nm.bits(mask, 16, g)[0] == 0.125
    assert replace(nm, nm_encoding="minimal").bits(mask, 8, g)[1] == 4 * 16 * 3
    broken = mask.copy()
    broken[2, 5] = True
    problem = nm.fit_problem(broken, g)
    assert problem == "mask is not 2:4 along C (a group of 4 holds 3 nonzeros)"
    assert "along K" in nm.fit_problem(broken, Geometry(channels=3))


@pytest.mark.parametrize("block", [(1, 1), (4, 4), (2, 8), (3, 5)])
@pytest.mark.parametrize("density", [0.02, 0.3, 1.0])
def test_block_matches_brute_force(block, density):
    rng = np.random.default_rng(int(density * 100) + block[0])
    mask = random_mask(rng, (13, 50), density)
    assert get_format("block", {"block": block}).bits(mask, 8, Geometry()) == brute_block(mask, 8, *block)


@pytest.mark.parametrize("rs,c", [(9, 4), (9, 1), (1, 16), (25, 3)])
@pytest.mark.parametrize("encoding", ["positional", "minimal"])
def test_window_and_channel_match_brute_force(rs, c, encoding):
    rng = np.random.default_rng(rs * 100 + c)
    mask = random_mask(rng, (7, rs * c), 0.3)
    mask[0, 0] = True
    g = Geometry(window=rs, channels=c)
    window = get_format("window", {"nm_encoding": encoding})
    assert window.bits(mask, 8, g) == brute_window(mask, 8, rs, c, encoding)
    assert get_format("channel").bits(mask, 8, g) == brute_channel(mask, 8, rs, c)


def test_window_three_of_nine_is_seven_bits():
    mask = np.zeros((2, 9 * 5), bool)
    for f in range(2):
        for ch in range(5):
            mask[f, [p * 5 + ch for p in (0, 4, 8)]] = True  # 3 of 9 in every window
    data, meta, pad = get_format("window", {"nm_encoding": "minimal"}).bits(mask, 8, Geometry(9, 5))
    assert (data, meta, pad) == (10 * 3 * 8, 10 * 7, 0)


# ---------------------------------------------------------------- the worked example


def test_worked_example_of_sparsity_md():
    """3x3 conv, C = K = 64, 8-bit values, 36,864 weights, d = 0.3 -> 11,059 nonzeros."""
    rng = np.random.default_rng(0)
    flat = np.zeros(64 * 576, bool)
    flat[rng.choice(flat.size, 11059, replace=False)] = True
    mask = flat.reshape(64, 576)  # 64 filters over K = 576
    g = Geometry(window=9, channels=64)
    assert get_format("dense").bits(mask, 8, g) == (294_912, 0, 0)
    assert get_format("bitmask").bits(mask, 8, g) == (88_472, 36_864, 0)
    assert get_format("csr").bits(mask, 8, g) == (88_472, 111_500, 0)
    assert get_format("coo").bits(mask, 8, g) == (88_472, 176_944, 0)
    # RLE-4: ~44.7 kbit of index + padding values; exact here on the real runs, i.i.d. estimate too
    data, meta, pad = rle(4).bits(mask, 8, g)
    assert abs(meta + pad * 8 - 44_700) < 0.01 * 44_700
    data, meta, pad = rle(4).expected_bits(64, 576, 11059, 8)
    assert round((meta + pad * 8) / 100) == 447


def test_expected_bits_of_general_formats():
    for name in ("dense", "bitmask", "csr", "coo"):
        rng = np.random.default_rng(1)
        flat = np.zeros(40 * 30, bool)
        flat[rng.choice(flat.size, 300, replace=False)] = True
        assert get_format(name).expected_bits(40, 30, 300.0, 8) == get_format(name).bits(
            flat.reshape(40, 30), 8, Geometry())
    with pytest.raises(NotImplementedError):
        get_format("window").expected_bits(4, 9, 3, 8)


def test_index_bits_widens_coordinates():
    mask = np.eye(8, 16, dtype=bool)
    g = Geometry()
    assert get_format("csr", {"index_bits": 16}).bits(mask, 8, g)[1] == 9 * 4 + 8 * 16
    assert get_format("csr", {"index_bits": 2}).bits(mask, 8, g)[1] == 9 * 4 + 8 * 4  # raised to 4
    assert get_format("coo", {"index_bits": 8}).bits(mask, 8, g)[1] == 8 * 16


def test_registry_names_and_docs():
    assert set(SPARSE_FORMATS) == {"dense", "bitmask", "csr", "coo", "rle", "nm", "block", "window",
                                   "channel", "window_nm", "channel_gather", "nm_flex"}
    for name in SPARSE_FORMATS:
        assert (SPARSE_FORMATS.get(name).__doc__ or "").strip()


# ---------------------------------------------------------------- kernels vs numpy references


def test_format_kernels_against_numpy():
    rng = np.random.default_rng(7)
    for _ in range(20):
        f, length = rng.integers(1, 20), rng.integers(1, 60)
        mask = random_mask(rng, (f, length), rng.random())
        u8 = np.ascontiguousarray(mask).view(np.uint8)
        flat = mask.ravel()
        nz = np.flatnonzero(flat)
        gaps = np.diff(np.concatenate([[-1], nz])) - 1
        r = int(rng.integers(1, 6))
        assert rle_counts(u8.ravel(), r) == (len(nz), int((gaps // (1 << r)).sum()))
        br, bc = int(rng.integers(1, 5)), int(rng.integers(1, 7))
        pad = np.zeros((-(-f // br) * br, -(-length // bc) * bc), bool)
        pad[:f, :length] = mask
        nonempty = pad.reshape(pad.shape[0] // br, br, pad.shape[1] // bc, bc).any(axis=(1, 3))
        heights = np.minimum(br, f - np.arange(0, f, br))
        area = heights[:, None] * np.minimum(bc, length - np.arange(0, length, bc))
        assert block_counts(u8, br, bc) == (int(nonempty.sum()), int((nonempty * area).sum()))
        m = int(rng.integers(1, 6))
        padm = np.zeros((f, -(-length // m) * m), bool)
        padm[:, :length] = mask
        assert group_max(u8, m) == int(padm.reshape(f, -1, m).sum(axis=2).max())


# ---------------------------------------------------------------- storage_of on layers


def conv_layer(mask: np.ndarray, **kw) -> Layer:
    out_ch, cin, kh, kw_ = mask.shape
    shape = ConvShape(batch=1, in_channels=cin, out_channels=out_ch, in_h=8, in_w=8, out_h=8, out_w=8,
                      kernel_h=kh, kernel_w=kw_, pad_h=kh // 2, pad_w=kw_ // 2)
    return Layer("conv", "conv", m=64, n=out_ch, k=cin * kh * kw_, weight_mask=mask, conv=shape, **kw)


def hw_with(weights: OperandSparsity, inputs: OperandSparsity | None = None):
    hw = load_hardware("dense_ws")
    return replace(hw, sparsity=SparseSupport(weights=weights, inputs=inputs or OperandSparsity()))


def test_weight_fibers_are_filters_in_rsc_order():
    rng = np.random.default_rng(3)
    mask = random_mask(rng, (6, 4, 3, 3), 0.5)
    layer = conv_layer(mask)
    fibers = weight_fibers(layer)
    assert fibers.shape == (6, 36) and fibers.dtype == np.uint8
    assert np.array_equal(fibers.astype(bool), layer.gemm_weight_mask()[0].T)
    assert weight_fibers(layer) is fibers  # cached while the layer lives


def test_storage_of_formats_on_a_layer():
    rng = np.random.default_rng(4)
    mask = random_mask(rng, (16, 8, 3, 3), 0.3)
    layer = conv_layer(mask, activation_density=0.5)
    fibers = weight_fibers(layer).astype(bool)
    dense = storage_of(layer, hw_with(OperandSparsity()))
    assert all(s.metadata_bits == 0 and s.data_bits == s.dense_bits for s in dense.values())
    assert dense["weights"].dense_bits == mask.size * 8
    skip = {"skip": "skip", "exploits": ("unstructured",)}
    bm = storage_of(layer, hw_with(OperandSparsity(format="bitmask", **skip)))
    assert bm["weights"].metadata_bits == mask.size and bm["weights"].format == "bitmask"
    assert bm["weights"].data_bits == int(mask.sum()) * 8
    csr = storage_of(layer, hw_with(OperandSparsity(format="csr", **skip)))
    assert (csr["weights"].data_bits, csr["weights"].metadata_bits) == brute_csr(fibers, 8)[:2]
    win = storage_of(layer, hw_with(OperandSparsity(format="window", options={"nm_encoding": "minimal"})))
    want = brute_window(fibers, 8, 9, 8, "minimal")[:2]
    assert (win["weights"].data_bits, win["weights"].metadata_bits) == want
    assert storage_of(layer, hw_with(OperandSparsity()))["outputs"].dense_bits == 64 * 16 * 8


def test_nm_that_does_not_fit_is_stored_dense_with_the_reason():
    mask = np.ones((8, 8, 1, 1), bool)
    layer = conv_layer(mask)
    s = weight_storage(layer, hw_with(OperandSparsity(format="nm", skip="skip", exploits=("nm",))))
    assert (s.format, s.metadata_bits, s.data_bits) == ("dense", 0, s.dense_bits)
    assert s.fit_problem.startswith("mask is not 2:4 along C")


def test_matmul_without_weights_is_dense():
    layer = Layer("bmm", "matmul", m=16, n=16, k=32, groups=4)
    s = storage_of(layer, hw_with(OperandSparsity(format="bitmask", skip="skip", exploits=("unstructured",))))
    assert s["weights"].metadata_bits == 0 and s["weights"].dense_bits == 4 * 16 * 32 * 8


def test_inputs_use_the_expected_count_or_a_mask():
    mask = np.ones((4, 8, 3, 3), bool)
    layer = conv_layer(mask, activation_density=0.25)
    hw = hw_with(OperandSparsity(), OperandSparsity(format="rle", skip="gate", options={"run_bits": 5}))
    s = input_storage(layer, hw)
    n = 8 * 8 * 8  # batch 1, 8x8 pixels, C = 8
    assert s.dense_bits == n * 8 and s.format == "rle"
    q = 0.75 ** 32
    entries = 128 + (round(128 / (1 - q)) - 128)
    assert (s.data_bits, s.metadata_bits) == (entries * 8, entries * 5)
    act = np.zeros((1, 8, 8, 8), bool)  # NCHW; one nonzero per pixel at channel 0
    act[:, 0] = True
    measured = input_storage(replace(layer, input_mask=act), hw)
    # NHWC stream: a nonzero every 8 positions -> gaps of 7 zeros, no padding with 5-bit runs
    assert (measured.data_bits, measured.metadata_bits, measured.padding_values) == (64 * 8, 64 * 5, 0)




def test_shipped_sparse_configs_store_resnet_like_layers():
    rng = np.random.default_rng(5)
    mask = random_mask(rng, (32, 16, 3, 3), 0.3)
    layer = conv_layer(mask, pattern="unstructured")
    for name in ("sparse_pe", "nm_tensor_core", "unstructured_skip", "zero_gated"):
        s = storage_of(layer, load_hardware(name))
        assert set(s) == {"inputs", "weights", "outputs"}
        assert s["weights"].dense_bits == mask.size * 8


# ---------------------------------------------------------------- config rules for formats


def _hw_dict(weights: dict, inputs: dict | None = None) -> dict:
    return {"version": 1, "name": "t", "pe_array": {"rows": 4, "cols": 4},
            "memories": [{"name": "glb", "size": "64 KiB"}],
            "sparsity": {"weights": weights, **({"inputs": inputs} if inputs else {})}}


@pytest.mark.parametrize("weights,inputs,message", [
    ({"format": "nm", "skip": "skip", "exploits": ["nm", "window"]}, None,
     "format 'nm' can only exploit nm, not window"),
    ({"format": "dense", "skip": "gate", "exploits": ["unstructured"]}, None,
     "format 'dense' stores no positions"),
    ({"format": "bitmask", "skip": "skip", "exploits": ["nm"]}, None,
     "exploiting nm needs the positions only format 'nm' keeps, not 'bitmask'"),
    ({"format": "bitmask", "skip": "skip"}, None, "skip: skip needs the patterns"),
    ({"format": "dense"}, {"format": "window", "skip": "gate"}, "format 'window' cannot store activations"),
    ({"format": "bitmask", "skip": "skip", "exploits": ["unstructured"], "run_bits": 4}, None,
     "sparsity.weights.run_bits: applies to format 'rle', not 'bitmask'"),
    ({"format": "csr", "skip": "skip", "exploits": ["unstructured"], "block": "4x4"}, None,
     "sparsity.weights.block: applies to format 'block' or exploits: \\[block\\], not 'csr'"),
    ({"format": "rle", "skip": "skip", "exploits": ["unstructured"], "run_bitz": 4}, None,
     "sparsity.weights.run_bitz: unknown key \\(did you mean 'run_bits'\\?\\)"),
    ({"format": "nm", "nm": "4:2"}, None, "sparsity.weights.nm: N:M with N=4 > M=2"),
])
def test_bad_sparsity_combinations_are_refused(weights, inputs, message):
    from accelsim.errors import ConfigError
    from accelsim.spec.hardware import hardware_from_dict

    with pytest.raises(ConfigError, match=message) as info:
        hardware_from_dict(_hw_dict(weights, inputs), "hw.yaml")
    assert len(info.value.problems) == 1


def test_shipped_sparse_configs_load_and_cite_a_source():
    for name in ("sparse_pe", "nm_tensor_core", "unstructured_skip", "zero_gated"):
        hw = load_hardware(name)
        assert hw.source and hw.description
    assert load_hardware("nm_tensor_core").sparsity.weights.nm == (2, 4)
    assert load_hardware("zero_gated").sparsity.inputs.run_bits == 5
    sparse_pe = load_hardware("sparse_pe").sparsity.weights  # bitmask, exploits block: the datapath's block
    assert sparse_pe.block == (4, 4) and sparse_pe.options == {"block": (4, 4)}


def test_an_operand_holds_its_formats_keys_only_filled_with_defaults():
    assert OperandSparsity().options == {}
    assert OperandSparsity(format="rle").options == {"run_bits": 4}
    nm = OperandSparsity(format="nm", options={"nm": (1, 4)})
    assert nm.options == {"index_bits": None, "nm": (1, 4), "nm_encoding": "positional"} and nm.nm == (1, 4)
    with pytest.raises(AttributeError, match="format 'rle' has no key 'nm'"):
        _ = OperandSparsity(format="rle").nm
