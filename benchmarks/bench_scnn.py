"""SCNN against its dense twin on its own evaluation networks: the published 2.7x performance and 2.3x
energy (Parashar et al., ISCA 2017) against accelsim's scnn_like / dcnn_like.

    python benchmarks/bench_scnn.py             # prints a markdown report
    python benchmarks/bench_scnn.py --record    # also writes benchmarks/results/scnn.md

(and, as an indication only, sparten_like against itself dense on the same networks).

Setup.  The conv layers of AlexNet (Caffe's, conv2/4/5 in 2 groups; 0.67 G MACs, SCNN's table says
0.69 G multiplies), GoogLeNet (v1, 57 convs, 1.6 G MACs) and VGG-16 (13 convs, 15.3 G) at ImageNet
shapes, batch 1; SCNN evaluates conv layers only.  Weight masks are drawn i.i.d. (seeded) at the
per-layer densities Han et al. publish for their pruned AlexNet and VGG-16 ("Learning both Weights
and Connections", NIPS 2015, Tables 2 and 3, "Weights%"), input activation masks at the densities of
the same tables' "Act%" column (the density of the previous layer's output; the image is dense).
The table values below are as recalled: the stored copy of the paper (ar5iv 1506.02626) could not be
read past its abstract here, so they were checked only against the tables' own FLOP% column where
that was recalled (FLOP% = Weights% x the input's Act%), and VGG's conv4/conv5 activation densities
are an assumption (0.40).  GoogLeNet has no published per-layer figures we could find: weight
density 0.35 (the conv-MAC-weighted mean of Han's AlexNet and VGG-16 is 0.33 to 0.38: assumed) and
activation density 0.56 (Cnvlutin, Albericio et al. ISCA 2016: 44 % of conv inputs are zero on
average), the image dense.  Every mask is synthetic, and every layer's notes say so.
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import time
from pathlib import Path

import numpy as np

from accelsim import simulate
from accelsim.spec.config import read_yaml
from accelsim.spec.hardware import HW_DIR, hardware_from_dict
from accelsim.workload.layer import ConvShape, Layer, Workload

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = {"performance": 2.7, "energy": 2.3}
TOLERANCE = 0.25
HAN = "Han et al. NIPS 2015 Table {} (recalled; synthetic mask)"

# name, C in, K out, H in (square), kernel, stride, pad, groups, weight density, input density
ALEXNET = [
    ("conv1", 3, 96, 227, 11, 4, 0, 1, 0.84, 1.00),
    ("conv2", 96, 256, 27, 5, 1, 2, 2, 0.38, 0.88),
    ("conv3", 256, 384, 13, 3, 1, 1, 1, 0.35, 0.52),
    ("conv4", 384, 384, 13, 3, 1, 1, 2, 0.37, 0.37),
    ("conv5", 384, 256, 13, 3, 1, 1, 2, 0.37, 0.40),
]
_VGG_W = [0.58, 0.22, 0.34, 0.36, 0.53, 0.24, 0.42, 0.32, 0.27, 0.34, 0.35, 0.29, 0.36]
_VGG_A = [1.00, 0.53, 0.89, 0.58, 0.84, 0.33, 0.58, 0.40, 0.40, 0.40, 0.40, 0.40, 0.40]
_VGG_SHAPES = [(3, 64, 224), (64, 64, 224), (64, 128, 112), (128, 128, 112), (128, 256, 56), (256, 256, 56),
               (256, 256, 56), (256, 512, 28), (512, 512, 28), (512, 512, 28), (512, 512, 14), (512, 512, 14),
               (512, 512, 14)]
_VGG_NAMES = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3", "conv4_1",
              "conv4_2", "conv4_3", "conv5_1", "conv5_2", "conv5_3"]
VGG16 = [(n, c, k, h, 3, 1, 1, 1, w, a)
         for n, (c, k, h), w, a in zip(_VGG_NAMES, _VGG_SHAPES, _VGG_W, _VGG_A, strict=True)]
# GoogLeNet v1 inception modules: in channels, 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj; plane
_INCEPTION = [("3a", 192, 64, 96, 128, 16, 32, 32, 28), ("3b", 256, 128, 128, 192, 32, 96, 64, 28),
              ("4a", 480, 192, 96, 208, 16, 48, 64, 14), ("4b", 512, 160, 112, 224, 24, 64, 64, 14),
              ("4c", 512, 128, 128, 256, 24, 64, 64, 14), ("4d", 512, 112, 144, 288, 32, 64, 64, 14),
              ("4e", 528, 256, 160, 320, 32, 128, 128, 14), ("5a", 832, 256, 160, 320, 32, 128, 128, 7),
              ("5b", 832, 384, 192, 384, 48, 128, 128, 7)]
GOOGLENET_W, GOOGLENET_A = 0.35, 0.56


def googlenet() -> list[tuple]:
    rows = [("conv1", 3, 64, 224, 7, 2, 3, 1, GOOGLENET_W, 1.0),
            ("conv2_reduce", 64, 64, 56, 1, 1, 0, 1, GOOGLENET_W, GOOGLENET_A),
            ("conv2", 64, 192, 56, 3, 1, 1, 1, GOOGLENET_W, GOOGLENET_A)]
    for name, cin, c1, r3, c3, r5, c5, pp, h in _INCEPTION:
        rows += [(f"{name}_1x1", cin, c1, h, 1, 1, 0, 1), (f"{name}_3x3_reduce", cin, r3, h, 1, 1, 0, 1),
                 (f"{name}_3x3", r3, c3, h, 3, 1, 1, 1), (f"{name}_5x5_reduce", cin, r5, h, 1, 1, 0, 1),
                 (f"{name}_5x5", r5, c5, h, 5, 1, 2, 1), (f"{name}_pool_proj", cin, pp, h, 1, 1, 0, 1)]
        rows[-6:] = [(*r, GOOGLENET_W, GOOGLENET_A) for r in rows[-6:]]
    return rows


NETWORKS = {"AlexNet": (ALEXNET, HAN.format(2)), "GoogLeNet": (googlenet(), "assumed network average"),
            "VGG-16": (VGG16, HAN.format(3))}


def workload(name: str) -> Workload:
    """The network's conv layers at ImageNet shapes with synthetic weight masks (seeded)."""
    rows, source = NETWORKS[name]
    layers = []
    for i, (lname, cin, cout, h, kk, stride, pad, groups, w_d, a_d) in enumerate(rows):
        out = (h + 2 * pad - kk) // stride + 1
        conv = ConvShape(1, cin, cout, h, h, out, out, kk, kk, stride, stride, pad, pad, groups=groups)
        rng = np.random.default_rng(1000 + i)
        mask = rng.random((cout, cin // groups, kk, kk)) < w_d
        layers.append(Layer(f"{name}.{lname}", "conv", out * out, cout // groups, cin // groups * kk * kk,
                            groups=groups, weight_mask=mask, activation_density=a_d,
                            activation_density_source=source, conv=conv))
    return Workload(name, tuple(layers), source="benchmarks/bench_scnn.py")


def hardware(name: str, bank_queues: bool = True):
    """A shipped config, with SCNN's accumulator-bank queues on (shipped) or off (unbuffered crossbar)."""
    raw = read_yaml(HW_DIR / f"{name}.yaml")
    raw["pe_array"]["cartesian"]["bank_queues"] = bank_queues
    return hardware_from_dict(raw, f"{name}.yaml")


def _totals(report) -> dict[str, float]:
    dram = ("dram_read", "dram_write")
    off_chip = sum(x.energy_by_action_pj.get(a, 0.0) for x in report.layers for a in dram)
    return {"compute": sum(x.compute_cycles for x in report.layers), "total": report.total_cycles,
            "pj": report.energy_pj, "on_chip_pj": report.energy_pj - off_chip,
            "macs_issued": sum(x.macs_issued for x in report.layers)}


RATIOS = (("compute", "performance, compute cycles", "performance"),
          ("total", "performance, total cycles (DRAM stalls in)", "performance"),
          ("pj", "energy", "energy"), ("on_chip_pj", "energy on chip (DRAM out)", "energy"))


def measure(networks=tuple(NETWORKS), bank_queues: bool = True) -> dict[str, dict]:
    """Per network: DCNN / SCNN of compute and total cycles, energy and on-chip energy, and the counts."""
    hws = {name: hardware(name, bank_queues) for name in ("scnn_like", "dcnn_like")}
    out = {}
    for net in networks:
        wl = workload(net)
        s, d = (_totals(simulate(hws[name], wl)) for name in ("scnn_like", "dcnn_like"))
        out[net] = {"macs": wl.macs, "scnn": s, "dcnn": d, **{key: d[key] / s[key] for key, _, _ in RATIOS}}
    return out


def measure_sparten(networks=tuple(NETWORKS)) -> dict[str, dict]:
    """Per network: sparten_like against itself dense (both operands dense, skip none), compute and
    total cycles and energy, and greedy balancing against none (compute cycles)."""
    def variant(sparsity=None, balance="greedy"):
        raw = read_yaml(HW_DIR / "sparten_like.yaml")
        raw["pe_array"]["inner_join"]["balance"] = balance
        if sparsity:
            raw["sparsity"] = sparsity
        return hardware_from_dict(raw, "sparten_like.yaml")

    dense = {op: {"format": "dense", "skip": "none"} for op in ("weights", "inputs")}
    hws = {"sparse": variant(), "dense": variant(dense), "unbalanced": variant(balance="none")}
    out = {}
    for net in networks:
        wl = workload(net)
        t = {name: _totals(simulate(hw, wl)) for name, hw in hws.items()}
        out[net] = {key: t["dense"][key] / t["sparse"][key] for key in ("compute", "total", "pj")}
        out[net]["balance"] = t["unbalanced"]["compute"] / t["sparse"]["compute"]
    return out


def sparten_report(results: dict[str, dict]) -> str:
    lines = ["", "## SparTen-like on the same networks (indicative, not a check)", "",
             "sparten_like (32x32 CUs, 128-position chunks; array size and clock assumed) against itself with"
             " both operands dense. SparTen's published 4.7x over dense was measured on its own setup, which"
             " this does not reproduce, so sparten_like stays UNCHECKED.", "",
             "| network | compute dense / SparTen | total | energy | greedy balancing: cycles saved |",
             "|---|---:|---:|---:|---:|"]
    for net, r in results.items():
        lines.append(f"| {net} | {r['compute']:.2f}x | {r['total']:.2f}x | {r['pj']:.2f}x"
                     f" | {1 - 1 / r['balance']:.1%} |")
    return "\n".join(lines) + "\n"


def mean_ratio(results: dict[str, dict], key: str) -> float:
    """The mean over networks of one ratio (SCNN's 2.7x and 2.3x are averages over its networks)."""
    return sum(r[key] for r in results.values()) / len(results)


def report(results: dict[str, dict], unbuffered: dict[str, dict], seconds: float) -> str:
    lines = ["# SCNN vs its dense twin (scnn_like / dcnn_like)", "",
             f"`python benchmarks/bench_scnn.py --record` on {datetime.date.today()}, Python"
             f" {platform.python_version()}, numpy {np.__version__}: {seconds:.0f} s in all.", "",
             "Setup: the module docstring of benchmarks/bench_scnn.py (conv layers at ImageNet shapes,"
             " batch 1, synthetic masks at Han et al.'s per-layer densities; GoogLeNet at assumed"
             " averages).", "",
             "| network | MACs dense | SCNN MACs | compute | total cycles | energy | energy on chip |"
             " compute, unbuffered banks |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for net, r in results.items():
        lines.append(f"| {net} | {r['macs'] / 1e9:.2f} G | {r['scnn']['macs_issued'] / 1e9:.2f} G"
                     + "".join(f" | {r[key]:.2f}x" for key, _, _ in RATIOS)
                     + f" | {unbuffered[net]['compute']:.2f}x |")
    lines += ["", "Every ratio is DCNN / SCNN.", "",
              "| ratio (mean of the three) | accelsim | published | off by |", "|---|---:|---:|---:|"]
    for key, label, pub in RATIOS:
        mean = mean_ratio(results, key)
        published = PUBLISHED[pub]
        off = (mean - published) / published
        lines.append(f"| {label} | {mean:.2f}x | {published}x | {off:+.0%}"
                     f" ({'within' if abs(off) <= TOLERANCE else 'outside'} {TOLERANCE:.0%}) |")
    return "\n".join(lines) + "\n"


NOTES = """
## Reading it

**Performance: met.**  The mean DCNN / SCNN compute-cycle ratio is within 25 % of the published 2.7x,
and so is the total with DRAM stalls (16 GB/s).  It grows with the work removed: VGG-16's conv1_2 at
22 % weights x 53 % activations runs 6x faster, while GoogLeNet's and VGG's 7x7 and 14x14 planes leave
PEs with 1x1 or 2x2 tiles, so the I = 4 activation vectors run part-empty (intra-PE fragmentation)
and the slowest PE of each FIFO-full sets its time (the notes give the multipliers' busy share per
layer).  The accumulator banks are queued (``bank_queues: true``): with an unbuffered crossbar
(last column) a cycle whose 16 products collide on a bank stalls, which costs the dense twin most
(its products of one weight row land on the same sums), so the ratio rises to 3.3-5.5x; the paper
says 2 x F x I banks keep conflicts rare, which the queued model reproduces (conflict factors of
1.00-1.05 in the layers' notes, against up to 2.6x for SCNN and 3.2x for the twin unbuffered).

**Energy: not met** (+38 %; on chip alone +46 %).  Not tuned; the reasons, as far as we can tell:

* The twin here is SCNN's own Cartesian-product datapath run dense, so it pays the same scatter
  crossbar and banked-accumulator read-modify-write per product as SCNN (about 4 pJ a product at
  3 KiB: 13-18 % of the energy).  Energy per product is then equal, and the energy ratio follows the
  work and traffic ratios (above the performance ratio).  The paper's 2.3x is below its 2.7x, so its
  dense baseline spends less per MAC than SCNN spends per product; its DCNN PE's details (a
  dot-product datapath?) are not available to us, so dcnn_like does not guess them.
* DRAM is 74-76 % of both designs' energy (Horowitz 45 nm DRAM; the paper is 16 nm with its own
  split, not known to us), and DRAM bytes shrink with compression (RLE weights and activations).
  The 500 B weight FIFO is modelled as the weights' on-chip tile store: it forces K to be tiled, so
  partial sums and inputs cross DRAM more often than in SCNN, whose accumulators keep the sums over
  all input channels while the weights stream -- an artifact of the tile model that hits the dense
  twin harder (3.4x SCNN's DRAM bytes on VGG-16).  With an 8 KiB weight stage the total cycles fall
  3.6-4.8x for both and the energy ratio is 2.4x (AlexNet) and 3.7x (VGG-16): the artifact moves
  the absolute numbers, not the ratio.
* Activation RAM accesses are priced at the 640 KiB of all 64 IARAMs (or OARAMs), not at one PE's
  10 KB bank (an energy table prices a level by its whole capacity): about 7x too dear per access,
  in both designs.

**Strides.**  SCNN's Cartesian product as published does not apply to non-unit strides (SparTen's
authors say so); accelsim splits a strided layer into stride phases (scnn_geometry.py), an
assumption that lets AlexNet's conv1 (stride 4) and GoogLeNet's conv1 (stride 2) run sparse.

**What is synthetic.**  Every mask is drawn i.i.d. at the published (or assumed) density, seeded;
real ReLU masks are clustered, which would change the per-PE imbalance.  Han et al.'s per-layer
densities are as recalled (module docstring); GoogLeNet's are assumed averages.
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--record", action="store_true")
    args = ap.parse_args()
    t0 = time.perf_counter()
    results = measure()
    unbuffered = measure(bank_queues=False)
    sparten = measure_sparten()
    text = report(results, unbuffered, time.perf_counter() - t0) + NOTES + sparten_report(sparten)
    sys.stdout.write(text)
    if args.record:
        (ROOT / "benchmarks" / "results" / "scnn.md").write_text(text)


if __name__ == "__main__":
    main()
