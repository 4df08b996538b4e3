"""scnn_compute(): SCNN's PT-IS-CP-sparse datapath (Parashar et al., ISCA 2017), on the real weight mask
and the layer's input activation mask (two_sided.input_mask).

Planar-tiled, input-stationary: each of the pe_rows x pe_cols PEs holds a th x tw tile of the input
plane, every channel (scnn_geometry.py).  Output channels run in groups of Kc, as many as the
accumulator banks hold with their halo, Kc = banks * bank_entries // (hh * hw) (at least 1, at most
the layer's filters).  For each group and each input channel the Kc x R x S slice of nonzero weights
is broadcast to every PE; a PE multiplies vectors of F nonzero weights by vectors of I nonzero
activations of its tile, F x I products per cycle (the Cartesian product, within a stride phase):

    unit cycles = sum over phases of ceil(nonzero weights / F) * ceil(nonzero activations / I)

and scatters them to its accumulator banks, where products colliding on a bank cost cycles
(scnn_banks.py: unbuffered, or with a queue per bank).  The weights stream through a FIFO of
``weight_fifo`` F-wide entries in every PE: no PE runs more than a FIFO-full ahead of the slowest, so
the input channels of each output group are cut into FIFO-fulls (a new cut where the running count of
weight vectors passes a multiple of the FIFO's entries) and the slowest PE sets the time of each:

    layer cycles = sum over images, output groups, FIFO-fulls of max over PEs of the units' cycles

Bank conflicts are walked product by product for every unit of a small layer, else for a seeded
sample of ``CONFLICT_SAMPLE`` units, whose ratio (conflicted / plain cycles) scales every unit (the
notes say which).  Halo: the partial sums a PE's tile sends to its neighbours after each output group
(its reach outside its own outputs) cross the NoC (counted in energy; the exchange overlaps the next
group: no cycles).  Skip policies per operand: ``skip`` walks that operand's mask, ``gate`` and
``none`` walk it dense (every position a product), ``gate`` counting the zero products as gated.
The dense twin (DCNN) is this datapath with both operands dense.
"""

from __future__ import annotations

import numpy as np

from accelsim.sim.dataflows.base import plan_folds
from accelsim.sim.dataflows.scnn_banks import unit_cycles
from accelsim.sim.dataflows.scnn_geometry import (
    ConvView,
    activation_counts,
    conv_view,
    halo_tile,
    tiles,
    useful_products,
    weight_counts,
)
from accelsim.sim.dataflows.two_sided import DatapathTrace, input_mask
from accelsim.sim.traces import Action, StorageBreakdown
from accelsim.spec.hardware import HardwareConfig
from accelsim.spec.pe_array import CartesianPEArray
from accelsim.workload.layer import Layer

CONFLICT_SAMPLE = 96  # units walked product by product when a layer has more


def output_group(v: ConvView, pe: CartesianPEArray) -> int:
    """Kc: filters whose sums (with the halo) fit the accumulator banks at once."""
    th, tw = tiles(v, pe.pe_rows, pe.pe_cols)
    hh, hw = halo_tile(v, th, tw)
    return int(min(v.kg, max(1, pe.banks * pe.bank_entries // max(1, hh * hw))))


def _fifo_cuts(vectors: np.ndarray, entries: int) -> np.ndarray:
    """int64 [groups, Q, Cg]: the FIFO-full each input channel's weights fall in (by where they start)."""
    before = np.cumsum(vectors, axis=2) - vectors
    return before // max(1, entries)


def scnn_compute(layer: Layer, hw: HardwareConfig, timing=None,
                 storage: dict[str, StorageBreakdown] | None = None) -> DatapathTrace:
    """The DatapathTrace of ``layer`` on ``hw``'s Cartesian-product PEs (module docstring); ``timing``
    and ``storage`` are not used (the datapath gives the cycles and the accesses)."""
    pe: CartesianPEArray = hw.pe_array
    w_skip, in_skip = hw.sparsity.weights.skip, hw.sparsity.inputs.skip
    mask, synthetic = input_mask(layer)
    v, acts, weights, positions = conv_view(layer, mask)
    acts_eff = acts if in_skip == "skip" else np.broadcast_to(positions, acts.shape)
    w_eff = weights if w_skip == "skip" else np.ones_like(weights)
    kc = output_group(v, pe)
    n_a = activation_counts(v, acts_eff, pe.pe_rows, pe.pe_cols)  # [B, C, P, ph]
    n_w = weight_counts(v, w_eff, kc)  # [g, Q, Cg, ph]
    g, q, cg, ph = n_w.shape
    b, p = n_a.shape[0], n_a.shape[2]
    a_vec = -(-n_a.reshape(b, g, cg, p, ph) // pe.i)
    w_vec = -(-n_w // pe.f)
    plain = np.einsum("gqch,bgcph->bgqcp", w_vec, a_vec)  # cycles of every unit, no bank conflicts
    factor, how = _conflict_factor(v, acts_eff, w_eff, kc, plain, pe)
    cuts = _fifo_cuts(w_vec.sum(axis=3), pe.weight_fifo)  # [g, Q, Cg]
    per_cut = _sum_by_cut(plain * factor if isinstance(factor, float) else factor, cuts)  # [B, g, Q, cuts, P]
    cycles = int(np.ceil(per_cut.max(axis=4)).sum())
    active = int((n_a.sum(axis=(0, 1, 3)) > 0).sum()) or p
    mean_work = per_cut.sum(axis=4) / active
    imbalance = float(per_cut.max(axis=4).sum() / mean_work.sum()) if mean_work.sum() else 1.0

    in_range = useful_products(v, acts_eff, w_eff)
    gate_view = useful_products(v, acts if in_skip != "none" else acts_eff,
                                weights if w_skip != "none" else w_eff)
    gated = in_range - gate_view if "gate" in (w_skip, in_skip) else 0
    nonzero = in_range - gated
    bits, acc = pe.precision_bits, pe.accumulator_bits
    act_reads = q * int(n_a.sum())  # an activation is read once per output group
    w_reads = b * int(n_w.sum())
    fifo_reads = int(np.einsum("gqch,bgcph->", n_w, a_vec))  # a weight is read once per activation vector
    th, tw = tiles(v, pe.pe_rows, pe.pe_cols)
    hh, hwid = halo_tile(v, th, tw)
    own = -(-th // v.stride[0]) * -(-tw // v.stride[1])
    halo = b * g * v.kg * active * max(0, hh * hwid - own)
    actions = [Action("noc", "noc", w_reads * active, bits),
               Action("pe_array", "pipeline_reg", w_reads * active, bits),
               Action("noc", "noc", halo, acc), Action("pe_array", "pipeline_reg", halo, acc),
               Action("sparse_logic", "scatter_xbar", nonzero)]
    acc_level = _per_pe(hw, "outputs")
    actions.append(Action(acc_level, "rf_access", 2 * nonzero, acc) if acc_level
                   else Action("pe_array", "pipeline_reg", nonzero, acc))
    fifo_level = _per_pe(hw, "weights")
    if fifo_level:
        actions.append(Action(fifo_level, "rf_access", fifo_reads, bits))
    if "skip" in (w_skip, in_skip):
        actions.append(Action("sparse_logic", "index_decode", act_reads + w_reads))
    notes = [f"SCNN: {p} PEs of {pe.f}x{pe.i} multipliers, tiles {th}x{tw}, Kc {kc} of {v.kg} filters"
             f" ({q} output group(s)), up to {int(per_cut.shape[3])} FIFO-full barrier(s) per group;"
             f" multipliers busy {nonzero / max(1, cycles * p * pe.f * pe.i):.0%}", how,
             f"halo: {halo:,} partial sums exchanged (energy; overlapped)"]
    if synthetic:
        notes.append(synthetic)
    return DatapathTrace(
        plan=plan_folds(pe.dataflow, pe.rows, pe.cols, layer.m, layer.n, layer.k),
        compute_cycles=cycles, macs_dense=layer.macs, macs_issued=int(in_range), macs_gated=int(gated),
        macs_skipped=int(layer.macs - in_range), load_imbalance=imbalance,
        sram_reads={"inputs": act_reads, "weights": w_reads, "outputs": 0},
        sram_writes={"outputs": layer.m * layer.n * layer.groups},
        notes=tuple(notes), datapath_actions=tuple(actions))


def _per_pe(hw: HardwareConfig, operand: str) -> str | None:
    return next((lv.name for lv in hw.memories if lv.per_pe and operand in lv.holds), None)


def _sum_by_cut(unit: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """[B, g, Q, Cg, P] summed over the input channels of each FIFO-full -> [B, g, Q, n_cuts, P]."""
    n_cuts = int(cuts.max()) + 1 if cuts.size else 1
    b, g, q, c, p = unit.shape
    out = np.zeros((b, g, q, n_cuts, p))
    gi, qi, _ = np.indices((g, q, c))
    np.add.at(out, (slice(None), gi.ravel(), qi.ravel(), cuts.ravel()), unit.reshape(b, g * q * c, p))
    return out


def _conflict_factor(v: ConvView, acts: np.ndarray, weights: np.ndarray, kc: int, plain: np.ndarray,
                     pe: CartesianPEArray):
    """The units' cycles with bank conflicts: every unit walked (an array like ``plain``) when there are
    at most CONFLICT_SAMPLE, else the conflicted / plain ratio of a seeded sample (a float)."""
    b, g, q, c, p = plain.shape
    th, tw = tiles(v, pe.pe_rows, pe.pe_cols)
    units = np.argwhere(plain > 0)
    if not len(units):
        return 1.0, "bank conflicts: no work"
    exact = len(units) <= CONFLICT_SAMPLE
    if not exact:
        units = units[np.random.default_rng(0).choice(len(units), CONFLICT_SAMPLE, replace=False)]
    pick = units
    walked = np.zeros(plain.shape)
    total_plain = total_conf = 0
    for bi, gi, qi, ci, pi in pick:
        y0, x0 = (pi // pe.pe_cols) * th, (pi % pe.pe_cols) * tw
        f0 = gi * v.kg + qi * kc
        w_c = weights[f0:min(f0 + kc, (gi + 1) * v.kg), ci]
        pl, unbuffered, queued = unit_cycles(v, acts[bi, gi * v.cg + ci], w_c, (y0, x0, th, tw), pe.f, pe.i,
                                             pe.banks)
        cf = queued if pe.bank_queues else unbuffered
        walked[bi, gi, qi, ci, pi] = cf
        total_plain += pl
        total_conf += cf
    ratio = total_conf / max(1, total_plain)
    model = "queued" if pe.bank_queues else "unbuffered"
    if exact:
        return walked, f"bank conflicts ({model}): every unit walked, {ratio:.3f}x the conflict-free cycles"
    return float(ratio), (f"bank conflicts ({model}): {ratio:.3f}x the conflict-free cycles, measured on"
                          f" a seeded sample of {CONFLICT_SAMPLE} of {int((plain > 0).sum()):,} units")
