"""Pruning patterns (granularities): which weights may be removed together.  numpy only.

A pattern turns per-weight importance scores into a keep-mask of the weight's own shape:
(out, in/groups, kh, kw) for a conv, (out, in) for a linear layer.  Internally every weight is
viewed as W[K, C, R, S] (K = out channels, C = in channels per group, R x S = kernel window; a
linear layer is R = S = 1), with the groups of reference/sparsity.md section 1:

==================  ==============================================  =============================
spec                one pruning group                               default ``fallback``
==================  ==============================================  =============================
``unstructured``    one weight W[k,c,r,s]                           (always fits)
``nm2:4``           M consecutive input channels at fixed (k,r,s),  ``dense`` when C % M != 0
                    i.e. along C in (K,R,S,C) order; N kept of M
``nm:4``            as above, N = round((1 - target) * M)           ``dense``
``block4x4``        b_r x b_c block of the [K, R*S*C] GEMM view,    ``dense`` when K % b_r or
                    columns in (r, s, c) order (Layer.gemm_weight_  R*S*C % b_c != 0
                    mask's K order); b_r runs along K (filters)
``vector``          a kernel row W[k,c,r,:]                         ``unstructured`` if S == 1
``kernel``          a whole window W[k,c,:,:]                       ``unstructured`` if R*S == 1
``window``          keep exactly m of R*S inside every W[k,c,:,:]   ``unstructured`` if R*S == 1
``channel``         whole windows, the same number in every filter  ``unstructured`` if C == 1
``combined``        ``channel`` then ``window`` on what is left     ``unstructured`` if R*S == 1
                                                                    or C == 1
``filter``          a whole filter W[k,:,:,:]                       (always fits)
``input_channel``   a whole input channel W[:,c,:,:]                ``unstructured`` if C == 1
==================  ==============================================  =============================

(base.py: ``unstructured``, N:M and ``block`` with the shared base class; grouped.py: ``vector``,
``kernel``, ``filter``, ``input_channel``; campfire.py: ``window``, ``channel`` and ``combined``,
accelsim's readings of Campfire.)  A spec is spelled as accelsim.spec.recipe.PatternSpec reads it.

Rules shared by every pattern
-----------------------------
* Scores: higher = more important.  A group's score is the **sum of |score|** over its weights
  (a single weight's group score is |score|); scores are meant to be non-negative (magnitude,
  SNIP, SynFlow), a signed score is reduced by its absolute value.  NaN scores are an error.
* Counts: a pattern prunes ``round(target * groups)`` groups (round half up), but never all of
  them: at least one group of every layer is kept (no layer collapse).  The achieved sparsity is
  therefore quantised by the pattern's granularity; report it beside the target.
* Ties are broken deterministically: among equal scores the group with the lower flat index
  (C order of the group array) is pruned first / kept last.
* ``fallback`` says what happens where the pattern has no structure or does not fit the layer
  (1x1 convs and linear layers for the window-like patterns, C % M != 0 for N:M, ...):
  ``unstructured`` (element-wise at the same target), ``dense`` (layer left unpruned),
  ``nm`` (N:M along C with M = ``nm_m`` and N derived from the target; dense if that does not
  fit either) or ``error`` (a ConfigError naming the layer and the reason).
"""

from __future__ import annotations

from accelsim.registry import PATTERNS
from accelsim.spec.recipe import pattern_names
from accelsim.workload.pruning.patterns import campfire, flexible_nm, grouped  # noqa: F401  (registers them)
from accelsim.workload.pruning.patterns.base import NM, Pattern, achieved, make_pattern

__all__ = ["NM", "PATTERNS", "Pattern", "achieved", "make_pattern", "pattern_names"]
