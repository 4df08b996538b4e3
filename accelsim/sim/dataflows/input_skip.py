"""What skipping zero activations buys where only their density d is known, by where the inputs flow.

A datapath skips a zero activation only where its schedule lets it (``inputs.skip: skip``):

* **K in time (os)**: each PE row takes its activations from its own queue (Cnvlutin-style), so a
  row drops its zeros independently, but a fold lasts as long as its slowest PE: for a fold whose
  filters need ``w`` steps, the expected maximum over the fold's ``pes`` PEs of Binomial(w, d)
  nonzero activations (``expected_max_binomial``), not the mean d * w.
* **K across the rows, inputs streamed in lockstep (ws)**: partial sums flow down each column while
  an activation vector enters the rows, so a step can be dropped only when every activation of the
  vector is zero: a fraction (1 - d) ** rows of the steps, rows = the K positions a fold spans.
  The other zero activations are issued and gated.
* **inputs stationary (is)**: a zero held input idles its PE; no time is saved.

Zeros are taken independent of each other: real ReLU zeros cluster (whole channels, regions), so
these are expectations, and the layer's notes say so.  A real activation mask replaces them.
"""

from __future__ import annotations

import numpy as np


def expected_max_binomial(trials, p: float, count: int) -> np.ndarray:
    """E[max of ``count`` independent Binomial(trials, p)], elementwise over an int array of trials:
    sum over x >= 0 of P(max > x) = 1 - F(x) ** count, F the binomial CDF (computed in log space)."""
    trials = np.asarray(trials, np.int64)
    out = np.zeros(trials.shape, np.float64)
    if p <= 0.0 or count < 1:
        return out
    if p >= 1.0:
        return trials.astype(np.float64)
    for n in np.unique(trials[trials > 0]).tolist():
        x = np.arange(n + 1, dtype=np.float64)
        log_choose = np.concatenate([[0.0], np.cumsum(np.log(n - x[:-1]) - np.log(x[:-1] + 1))])
        pmf = np.exp(log_choose + x * np.log(p) + (n - x) * np.log1p(-p))
        cdf = np.minimum(np.cumsum(pmf), 1.0)[:-1]  # F(0) .. F(n - 1); P(max > n) = 0
        with np.errstate(divide="ignore"):
            tail = -np.expm1(count * np.log(cdf))
        out[trials == n] = tail.sum()
    return out


def steps_kept(steps, d: float, *, k_in_time: bool, pes: int, rows: int) -> np.ndarray:
    """Streamed steps a fold still takes when zero activations are skipped (module docstring):
    ``k_in_time`` the slowest of ``pes`` queues, else whole zero vectors of ``rows`` activations."""
    steps = np.asarray(steps, np.int64)
    if d >= 1.0:
        return steps
    if k_in_time:
        return np.ceil(expected_max_binomial(steps, d, pes) - 1e-9).astype(np.int64)
    return np.ceil(steps * step_fraction(d, rows) - 1e-9).astype(np.int64)


def step_fraction(d: float, rows: int) -> float:
    """Share of lockstep steps whose activation vector of ``rows`` entries is not all zero."""
    return 1.0 - (1.0 - d) ** max(rows, 1)
