"""The mask-similarity heat map: the weighted-mean Jaccard similarity of every pair of mask sets
(accelsim.studies.masks.similarity_matrix), each cell printed, in the look of accelsim.results.plots.
``similarity_figure`` builds the Figure (tests walk its artists); ``plot_similarity`` saves it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from accelsim.results.plots import SMALL_PT, _figure, _save, _style


def similarity_figure(matrix: Sequence[Sequence[float]], labels: Sequence[str], title: str,
                      baseline: float | None = None) -> Any:
    """A labelled heat map of ``matrix`` (values in [0, 1]); ``baseline`` (e.g. the similarity two
    random masks of the same density would have) is named under the colour bar."""
    import numpy as np

    m = np.asarray(matrix, dtype=float)
    n = len(labels)
    if m.shape != (n, n):
        raise ValueError(f"matrix of shape {m.shape} for {n} labels")
    side = max(4.5, 0.55 * n + 2.5)
    fig = _figure(side + 1.2, side)
    ax = fig.add_subplot()
    image = ax.imshow(m, vmin=0.0, vmax=1.0, cmap="viridis")
    ax.set_xticks(range(n), labels, rotation=60, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(n), labels)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{m[i, j]:.2f}", ha="center", va="center", fontsize=SMALL_PT,
                    color="black" if m[i, j] > 0.6 else "white")
    _style(ax, title)
    ax.grid(False)
    bar = fig.colorbar(image, ax=ax, shrink=0.8)
    text = "Jaccard similarity of the kept weights"
    if baseline is not None:
        text += f"\n(random masks, same density: {baseline:.2f})"
    bar.set_label(text, fontsize=9)
    bar.ax.tick_params(labelsize=SMALL_PT + 1)
    return fig


def plot_similarity(matrix: Sequence[Sequence[float]], labels: Sequence[str], path: str | Path, title: str,
                    baseline: float | None = None) -> Path:
    return _save(similarity_figure(matrix, labels, title, baseline), path)
