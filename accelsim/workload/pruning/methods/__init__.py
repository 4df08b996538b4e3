"""Pruning methods: how important each weight is, and (for iterative / training methods) the loop
that turns importance into keep-masks.  See reference/sparsity.md section 2.

``METHODS`` maps a name to a frozen-dataclass *instance*; its fields are the method's parameters
and ``prune(..., **params)`` overrides them for one call.  Every method has

* ``scores(model, layers, *, seed, data=None) -> {name: float64 array of the weight's shape}``,
  higher = more important (keep).  ``scores`` never changes the model.
* ``prune(model, layers, pattern, sparsity, *, seed, data=None, **params) -> {name: bool keep-mask}``
  using ``pattern.mask(scores, sparsity, kind=...)`` (a Pattern from accelsim.workload.pruning.patterns).
  One-shot methods score once; synflow iterates on a copy; agp / imp / drop train ``model`` in place
  (see iterative.py) and leave it fine-tuned with the pruned weights at zero.

``layers`` maps a name to a module with a 2-D (linear) or 4-D (conv) ``weight`` that belongs to
``model``.  ``data`` is a ``DigitsData`` (training.py) or an ``(inputs, labels)`` batch.  The target
goes through ``pattern.target_for`` first (``nm2:4`` is 50 % whatever the request).  The class
flag ``trains`` marks the methods that train the model (small models only); the table says which
need data.

Scope (field ``scope``): ``"layer"`` prunes every layer to the target; ``"global"`` ranks all
weights of all layers together, keeps the top ``(1 - sparsity)`` of them (one threshold), and
gives each layer the sparsity that threshold implies, optionally capped by
``max_layer_sparsity``.  With the unstructured pattern the global mask is exactly that threshold
and **may empty a whole layer** (layer collapse, Tanaka et al. 2020) -- that is the method's real
result, not a bug; set ``max_layer_sparsity`` (e.g. 0.98) to forbid it.  With any other pattern
the per-layer sparsities are handed to ``pattern.mask`` (which keeps >= 1 group), and a layer
allotted 100 % is emptied.

Method                 data      default scope  notes
---------------------  --------  -------------  ------------------------------------------------
magnitude              no        layer          |w|
random                 no        layer          seeded uniform; reproducible per (seed, layer name)
l1_filter              no        layer          L1 norm of each filter (output row), broadcast
taylor                 batch     layer          mean over ``batches`` batches of |w * dL/dw|
snip                   batch     global         |g * w| on one batch, one shot (Lee et al. 2019)
wanda                  inputs    layer          |w| * ||x_j|| on a calibration batch (Sun et al. 2023);
                                                seeded N(0,1) samples of input_shape without data
synflow                no        global         iterative, data-free (Tanaka et al. 2020)
agp / imp / drop       DigitsData  layer        train the model -- small models only
imp_reinit             DigitsData  layer        imp, survivors re-drawn at random instead of rewound
pen_ultimate           batch     layer          PCA width + relative importance (reconstruction)
"""

from __future__ import annotations

from accelsim.registry import METHODS
from accelsim.workload.pruning.methods import (  # noqa: F401  (register them)
    imp_reinit,
    iterative,
    oneshot,
    pen_ultimate,
    synflow,
    wanda,
)
from accelsim.workload.pruning.methods.base import Method, allocate_global, masks_from_scores, register_method

__all__ = ["METHODS", "Method", "allocate_global", "masks_from_scores", "register_method"]
