"""The Pareto plot of a sweep: energy vs cycles, every point, the frontier joined and labelled.

matplotlib is imported inside the function (Agg backend), so importing this module costs nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from accelsim.studies.sweep import pareto_mask


def label(params: dict[str, Any], limit: int = 40) -> str:
    """Short point label from its parameters: the last part of each path, ``rows=16 glb.size=128 KiB``."""
    parts = []
    for k, v in params.items():
        short = ".".join(k.replace("[", ".").replace("]", "").split(".")[-2:]) if "." in k else k
        parts.append(f"{short}={v}")
    text = " ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plot_pareto(rows: Sequence[dict[str, Any]], path: str | Path, *, title: str = "",
                x: str = "total_cycles", y: str = "energy_pj", annotate: int = 12) -> Path:
    """Write a PNG of ``y`` vs ``x`` for ``rows`` (store rows with ``sweep_params``); returns the path."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from accelsim.files import write_atomic

    xs = [float(r[x]) for r in rows]
    ys = [float(r[y]) / 1e6 for r in rows]  # pJ -> µJ
    front = pareto_mask(xs, ys)
    fig, ax = plt.subplots(figsize=(7.5, 5.0), dpi=120)
    try:
        others = [i for i, f in enumerate(front) if not f]
        ax.scatter([xs[i] for i in others], [ys[i] for i in others], s=14, color="0.6", label="points")
        idx = sorted((i for i, f in enumerate(front) if f), key=lambda i: (xs[i], ys[i]))
        ax.plot([xs[i] for i in idx], [ys[i] for i in idx], "o-", color="tab:red", ms=5, lw=1.2,
                drawstyle="steps-post", label=f"Pareto frontier ({len(idx)})")
        if len(idx) <= annotate:
            for i in idx:
                params = rows[i].get("sweep_params", rows[i].get("params", {}))
                ax.annotate(label(params), (xs[i], ys[i]), textcoords="offset points", xytext=(4, 4),
                            fontsize=7, color="tab:red")
        if xs and min(xs) > 0 and max(xs) / min(xs) > 30:
            ax.set_xscale("log")
        if ys and min(ys) > 0 and max(ys) / min(ys) > 30:
            ax.set_yscale("log")
        ax.set_xlabel("cycles" if x == "total_cycles" else x)
        ax.set_ylabel("energy (µJ)" if y == "energy_pj" else y)
        ax.set_title(title or "sweep: energy vs cycles")
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        fig.tight_layout()
        import io

        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    write_atomic(path, buf.getvalue())
    return Path(path)
