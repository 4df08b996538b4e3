"""Masks above 4 Mi elements stay bit-packed in memory (PackedMask): every number is the same as with
the unpacked mask, the cache stores and returns the bits as they are."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accelsim.sim.simulator import simulate
from accelsim.spec.hardware import load_hardware
from accelsim.workload import cache, packed_mask
from accelsim.workload.layer import Layer, Workload
from accelsim.workload.packed_mask import PackedMask, maybe_packed
from accelsim.workload.tracing import workload_fingerprint


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 9), min_size=1, max_size=4), density=st.floats(0, 1),
       seed=st.integers(0, 99))
def test_pack_round_trip_and_counts(shape, density, seed):
    mask = np.random.default_rng(seed).random(shape) < density
    packed = PackedMask.pack(mask)
    assert packed.shape == mask.shape and packed.size == mask.size and packed.ndim == mask.ndim
    assert np.array_equal(np.asarray(packed), mask) and np.asarray(packed).dtype == bool
    assert packed.count_nonzero() == np.count_nonzero(mask)
    assert np.array_equal(packed.bits, np.packbits(mask, axis=None))
    assert np.array_equal(np.asarray(packed, dtype=np.uint8), mask.astype(np.uint8))


def test_packed_mask_is_read_only_and_checked():
    bits = np.packbits(np.ones(20, bool))
    packed = PackedMask(bits, (4, 5))
    assert not packed.bits.flags.writeable and bits.flags.writeable  # the caller's array untouched
    with pytest.raises(ValueError, match="do not hold"):
        PackedMask(bits, (5, 6))
    assert not packed.unpack().flags.writeable


def test_layer_packs_only_large_masks():
    small = np.ones((64, 64), bool)
    assert maybe_packed(small) is small
    big = np.random.default_rng(0).random((2048, 2049)) < 0.5  # 4,196,352 > 4 Mi elements
    layer = Layer("fc", "linear", m=1, n=2048, k=2049, weight_mask=big)
    assert isinstance(layer.weight_mask, PackedMask)
    assert layer.weight_nonzeros == np.count_nonzero(big)
    assert layer.weight_density == np.count_nonzero(big) / big.size
    assert np.array_equal(layer.gemm_weight_mask()[0], big.T)


def _big_workload() -> Workload:
    rng = np.random.default_rng(1)
    scores = rng.random((1024, 4608))  # 4.7 M weights, 2:4 along K
    order = np.argsort(scores.reshape(1024, -1, 4), axis=2)
    keep = np.zeros((1024, 1152, 4), bool)
    np.put_along_axis(keep, order[:, :, 2:], True, axis=2)
    layers = (Layer("proj", "linear", m=4, n=1024, k=4608, weight_mask=keep.reshape(1024, 4608),
                    pattern="nm2:4", target_sparsity=0.5, input_from=("",)),)
    return Workload("big", layers, input_shape=(4608,), batch=4)


@pytest.mark.parametrize("hw", ["nm_tensor_core", "sparse_pe"])
def test_packed_and_unpacked_simulate_alike(hw, monkeypatch):
    packed = _big_workload()
    assert isinstance(packed.layers[0].weight_mask, PackedMask)
    monkeypatch.setattr(packed_mask, "PACK_ABOVE_ELEMENTS", 1 << 40)
    plain = _big_workload()
    assert isinstance(plain.layers[0].weight_mask, np.ndarray)
    config = load_hardware(hw)
    a, b = simulate(config, packed), simulate(config, plain)
    assert [r.to_dict() for r in a.layers] == [r.to_dict() for r in b.layers]
    assert a.totals() == b.totals()
    assert workload_fingerprint(packed) == workload_fingerprint(plain)


def test_cache_keeps_large_masks_packed(tmp_path):
    workload = _big_workload()
    cache.save_workload(workload, tmp_path, "k")
    back = cache.load_cached(tmp_path, "k")
    mask = back.layers[0].weight_mask
    assert isinstance(mask, PackedMask)
    assert np.array_equal(mask.bits, workload.layers[0].weight_mask.bits)
    assert workload_fingerprint(back) == workload_fingerprint(workload)


@settings(max_examples=60, deadline=None)
@given(group=st.sampled_from([1, 2, 4, 8]), fibers=st.integers(1, 6), bytes_per_fiber=st.integers(1, 5),
       density=st.floats(0, 1), seed=st.integers(0, 999))
def test_packed_group_max_is_group_max(group, fibers, bytes_per_fiber, density, seed):
    from accelsim.sim.formats import kernels

    mask = (np.random.default_rng(seed).random((fibers, 8 * bytes_per_fiber)) < density).astype(np.uint8)
    packed = np.packbits(mask.astype(bool), axis=None)
    assert kernels.packed_group_max(packed, group) == kernels.group_max(mask, group)


def test_all_and_any_without_unpacking():
    for mask in (np.ones((3, 5), bool), np.zeros((3, 5), bool), np.eye(3, 5, dtype=bool)):
        packed = PackedMask.pack(mask)
        assert (packed.all(), packed.any()) == (mask.all(), mask.any())
