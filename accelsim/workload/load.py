"""load_workload(): one entry point for every way a user names a workload.

``*.csv`` -> a SCALE-Sim topology; anything else -> a recipe name or file, a zoo model, or
``package.module:function`` (accelsim.workload.recipes resolves those).
"""

from __future__ import annotations

from pathlib import Path

from accelsim.workload.layer import Workload


def load_workload(ref: str, *, batch: int | None = None, input_shape: tuple[int, ...] | None = None,
                  checkpoint: str | None = None, use_cache: bool = True) -> Workload:
    if ref.endswith(".csv"):
        from accelsim.workload.scalesim_topology import read_scalesim_topology

        return read_scalesim_topology(ref, name=Path(ref).stem)
    from accelsim.workload.recipes import load_workload as load_recipe_workload

    return load_recipe_workload(ref, batch=batch, input_shape=input_shape, checkpoint=checkpoint,
                                use_cache=use_cache)
