"""Construction helpers shared by the zoo's families."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn


@contextlib.contextmanager
def default_init_skipped(*classes: type[nn.Module]) -> Iterator[None]:
    """Build a model whose own init re-initialises every weight of these module classes (torchvision's
    kaiming_normal_ on convs, the Llama stack's N(0, 0.02) on linears) without first paying their
    default reset_parameters (0.7 s on ResNet-50).  Only for models that do initialise every such
    module themselves, inside this block."""
    originals = {cls: cls.reset_parameters for cls in classes}
    for cls in classes:
        cls.reset_parameters = lambda self: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        for cls, original in originals.items():
            cls.reset_parameters = original  # type: ignore[method-assign]


def nonzero_weights(weight: torch.Tensor) -> None:
    """A freshly initialised weight is dense: the tracer reads exact zeros as pruned, so the rare value
    the random init gives as exactly 0.0 (2 of ResNet-50's 25.5 M; torch's normal_ a few per 10 M)
    becomes the smallest normal float.  In place; one pass when there is none."""
    with torch.no_grad():
        if int(torch.count_nonzero(weight)) == weight.numel():
            return
        if weight.is_contiguous() and weight.device.type == "cpu":  # numpy: no bool tensor of the size
            flat = weight.detach().view(-1).numpy()
            flat[np.flatnonzero(flat == 0)] = torch.finfo(weight.dtype).tiny
        else:
            weight.masked_fill_(weight == 0, torch.finfo(weight.dtype).tiny)
