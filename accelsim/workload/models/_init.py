"""Construction helpers shared by the zoo's families."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import nn


@contextlib.contextmanager
def conv_default_init_skipped() -> Iterator[None]:
    """Build a model whose own init re-initialises every conv weight (torchvision's kaiming_normal_)
    without first paying nn.Conv2d's default kaiming_uniform_ on every weight (0.7 s on ResNet-50).
    Only for models that do initialise every conv themselves, inside this block."""
    original = nn.Conv2d.reset_parameters
    nn.Conv2d.reset_parameters = lambda self: None  # type: ignore[method-assign]
    try:
        yield
    finally:
        nn.Conv2d.reset_parameters = original  # type: ignore[method-assign]
