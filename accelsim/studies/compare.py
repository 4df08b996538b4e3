"""Structured vs unstructured sparsity at equal density: every pattern on every hardware config.

``compare(hws, model, density, patterns)`` prunes the zoo model once per pattern at the same target
(sparsity = 1 - density) through the recipe-name grammar (``resnet50_70pct_window``, with the
defaults accelsim.spec.recipe states), so the workloads are cached like any ``--model`` name.
Each pruned workload and the dense model run on every config; speedup and energy are against the
dense model on the same hardware.  N:M with a fixed N (``nm2:4``) fixes the density at N/M
whatever ``density`` says: the achieved density is in every row and a note says so (``nm:4``
derives N from the density).

``recipes`` adds workloads that a pattern name cannot say (a recipe name or file of the same model:
``resnet50_nmflex_global`` picks N:4 per layer by one global threshold); their rows carry the recipe's
name as the pattern and its own achieved density.

The cost side of each row: ``metadata_bits`` (every operand's index bits), ``sparse_logic_energy_pj``
(the energy of the datapath's sparse logic: index decoding, operand select or intersection, a
Campfire array's row bus and mux / gather) and ``pe_area_um2`` (one PE, from the rtl_ref PEs' yosys
cell counts: sim/dataflows/campfire_area.py; None where no RTL PE models the datapath).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from accelsim.errors import AccelsimError, UnknownNameError
from accelsim.files import rows_to_csv, write_atomic
from accelsim.sim.dataflows.campfire_area import pe_area
from accelsim.sim.report import Report
from accelsim.spec.hardware import HardwareConfig
from accelsim.spec.recipe import PatternSpec, recipe_name

ProgressFn = Callable[[int, int, str], None]


@dataclass(frozen=True)
class CompareRow:
    """One (hardware, pattern) point.  ``imbalance`` is the compute-cycle-weighted mean of the
    layers' load imbalance; ``weights_footprint`` = (data + metadata) / dense bits of the weights;
    ``ran_dense_layers`` of the ``pruned_layers`` ran dense because the datapath cannot use the pattern
    (it skips no weights, or a layer note says "ran dense").  Costs: ``sparse_logic_energy_pj`` (in
    ``energy_pj``), ``pe_area_um2`` of the config's PE and ``pe_area_source`` (which RTL PE; None and
    "" when none models it)."""

    hardware: str
    pattern: str
    workload: str
    density: float
    total_cycles: int
    dense_cycles: int
    energy_pj: float
    dense_energy_pj: float
    macs_dense: int
    macs_issued: int
    imbalance: float
    metadata_bits: int
    weights_bits: int
    weights_footprint: float
    notes: int
    pruned_layers: int = 0
    ran_dense_layers: int = 0
    sparse_logic_energy_pj: float = 0.0
    pe_area_um2: float | None = None
    pe_area_source: str = ""

    @property
    def speedup(self) -> float:
        return self.dense_cycles / self.total_cycles if self.total_cycles else float("inf")

    @property
    def energy_ratio(self) -> float:
        return self.energy_pj / self.dense_energy_pj if self.dense_energy_pj else 0.0

    @property
    def usable(self) -> bool:
        """False when the datapath ran every pruned layer dense: its 1.00x is not the pattern's."""
        return self.ran_dense_layers < self.pruned_layers or not self.pruned_layers

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"speedup": self.speedup, "energy_ratio": self.energy_ratio,
                               "usable": self.usable}


@dataclass(frozen=True)
class Comparison:
    model: str
    density: float
    patterns: tuple[str, ...]
    hardware: tuple[str, ...]
    rows: tuple[CompareRow, ...]
    notes: tuple[str, ...] = ()

    def row(self, hardware: str, pattern: str) -> CompareRow:
        for r in self.rows:
            if r.hardware == hardware and r.pattern == pattern:
                return r
        raise KeyError((hardware, pattern))

    def to_json_dict(self) -> dict[str, Any]:
        return {"model": self.model, "density": self.density, "patterns": list(self.patterns),
                "hardware": list(self.hardware), "notes": list(self.notes),
                "rows": [r.to_dict() for r in self.rows]}

    def to_csv(self) -> str:
        return rows_to_csv([r.to_dict() for r in self.rows])


def check_density(density: Any) -> float:
    try:
        d = float(density)
    except (TypeError, ValueError):
        raise AccelsimError(f"density {density!r} is not a number; write e.g. 0.3 (30 % of the weights kept)"
                            ) from None
    if not 0.0 < d <= 1.0:
        raise AccelsimError(f"density {density!r} is outside (0, 1]; it is the fraction of weights kept,"
                            " e.g. 0.3 for 70 % sparsity")
    return d


def check_patterns(patterns: Sequence[str]) -> tuple[str, ...]:
    """Canonical specs; an unknown name raises UnknownNameError listing the pattern names."""
    from accelsim.workload.pruning.patterns import make_pattern

    names = [p for p in (str(p).strip() for p in patterns) if p]
    specs = tuple(dict.fromkeys("dense" if p == "dense" else make_pattern(p).spec for p in names))
    if not specs:
        raise AccelsimError("no patterns given; write e.g. --patterns unstructured,nm2:4,window")
    return specs


def workload_name(model: str, pattern: str, density: float) -> str:
    """The recipe name for ``pattern`` at ``density`` (N:M with a fixed N: ``<model>_<N>of<M>``)."""
    if pattern == "dense" or density >= 1.0:
        return model
    fixed = PatternSpec.parse(pattern).fixed_sparsity
    return recipe_name(model, pattern, 1.0 - density if fixed is None else fixed)


def _row(hw: HardwareConfig, pattern: str, workload, report: Report, dense: Report) -> CompareRow:
    size = sum(layer.weight_count for layer in workload.layers)
    nnz = sum(layer.weight_nonzeros for layer in workload.layers)
    cycles = [layer.compute_cycles for layer in report.layers]
    imb = sum(layer.load_imbalance * c for layer, c in zip(report.layers, cycles, strict=True))
    w = report.storage_totals().get("weights")
    pruned = [layer for layer in report.layers if layer.weight_density < 1.0]
    no_skip = hw.sparsity.weights.skip == "none"
    area = pe_area(hw)
    return CompareRow(
        hardware=hw.name, pattern=pattern, workload=workload.name, density=nnz / size if size else 1.0,
        total_cycles=report.total_cycles, dense_cycles=dense.total_cycles, energy_pj=report.energy_pj,
        dense_energy_pj=dense.energy_pj, macs_dense=report.macs_dense, macs_issued=report.macs_issued,
        imbalance=imb / sum(cycles) if sum(cycles) else 1.0, metadata_bits=int(report.total("metadata_bits")),
        weights_bits=w.total_bits if w else 0, weights_footprint=w.footprint_ratio if w else 1.0,
        notes=sum(len(layer.notes) for layer in report.layers), pruned_layers=len(pruned),
        ran_dense_layers=sum(no_skip or any("ran dense" in n for n in layer.notes) for layer in pruned),
        sparse_logic_energy_pj=sum(lr.energy_by_component_pj.get("sparse_logic", 0) for lr in report.layers),
        pe_area_um2=area[0] if area else None, pe_area_source=area[1] if area else "")


def check_recipes(recipes: Sequence[str], model: str) -> dict[str, str]:
    """Label -> reference of each recipe (its name, or a file's stem); each must prune ``model``."""
    from accelsim.workload.recipes import resolve_recipe

    labels: dict[str, str] = {}
    for ref in (str(r).strip() for r in recipes):
        if not ref:
            continue
        recipe = resolve_recipe(ref, validate_method=False)
        if recipe.model != model:
            raise AccelsimError(f"recipe {ref}: prunes {recipe.model!r}, not {model!r}; compare measures"
                                f" every workload against the dense {model}, so give a recipe of {model}")
        labels[recipe.name or Path(ref).stem] = ref
    return labels


def compare(hws: Sequence[HardwareConfig], model: str, density: float, patterns: Sequence[str], *,
            recipes: Sequence[str] = (), batch: int | None = None, use_cache: bool = True,
            progress: ProgressFn | None = None) -> Comparison:
    """Every pattern and recipe (plus the dense model) on every config; see the module docstring."""
    from accelsim.sim.simulator import simulate
    from accelsim.workload.load import load_workload
    from accelsim.workload.models import MODELS
    from accelsim.workload.pruning.patterns import NM, make_pattern

    d = check_density(density)
    specs = check_patterns(patterns) if patterns or not recipes else ()
    if model not in MODELS:
        raise UnknownNameError("model", model, MODELS.names(),
                               hint="compare prunes a zoo model itself; give its name (e.g. resnet50)")
    if not hws:
        raise AccelsimError("no hardware config given; write e.g. --hw sparse_pe")
    notes = []
    for spec in specs:
        p = make_pattern(spec) if spec != "dense" else None
        if isinstance(p, NM) and p.n is not None and abs(p.n / p.m - d) > 1e-9:
            notes.append(f"{spec} fixes the density at {p.n / p.m:.2f} (requested {d:.2f}); "
                         f"nm:{p.m} derives N from the density")
    names = {spec: workload_name(model, spec, d) for spec in ("dense", *specs)}
    extra = check_recipes(recipes, model)
    names |= {label: ref for label, ref in extra.items() if label not in names}
    specs = (*specs, *(label for label in extra if label not in specs))
    total, steps = len(names) * (1 + len(hws)), itertools.count(1)
    progress = progress or (lambda done, total, item: None)
    workloads = {}
    for spec, name in names.items():
        workloads[spec] = load_workload(name, batch=batch, use_cache=use_cache)
        progress(next(steps), total, name)
    rows = []
    for hw in hws:
        reports = {}
        for spec in names:
            reports[spec] = simulate(hw, workloads[spec])
            progress(next(steps), total, f"{hw.name}: {spec}")
        rows += [_row(hw, spec, workloads[spec], reports[spec], reports["dense"]) for spec in specs]
    return Comparison(model=model, density=d, patterns=specs, hardware=tuple(hw.name for hw in hws),
                      rows=tuple(rows), notes=tuple(notes))


def save_comparison(result: Comparison, out_dir: str | Path) -> list[Path]:
    """compare.json, compare.csv and compare.png in ``out_dir``."""
    from accelsim.results.plots_studies import plot_comparison

    out = Path(out_dir)
    data = result.to_json_dict()
    write_atomic(out / "compare.json", json.dumps(data, indent=2) + "\n")
    write_atomic(out / "compare.csv", result.to_csv())
    return [out / "compare.json", out / "compare.csv", plot_comparison(data, out / "compare.png")]
