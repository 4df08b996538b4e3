"""Real data that ships offline (scikit-learn's 8x8 digits) and the small train / evaluate loops
that the data-driven and training pruning methods use.

``load_digits_split`` gives a stratified train/test split of the 1,797 digits, normalised with the
*training* split's mean and standard deviation, as flat 64-feature rows (MLP) or 1x8x8 images (a
LeNet-5-style CNN).  ``train`` keeps pruned weights at exactly zero (the masks are applied after
every optimiser step, and the masked gradients are cleared before it), ``evaluate`` reports the
accuracy on the held-out *test* split.

Everything here is meant for small models: an MLP 64-128-64-10 trains to > 95 % test accuracy in
about a second on one CPU core.  Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from accelsim.errors import AccelsimError

LAYOUTS = ("flat", "image")


@dataclass(frozen=True, eq=False)
class DigitsData:
    """A train/test split as float32 / int64 tensors; ``layout`` is "flat" (N, 64) or "image" (N, 1, 8, 8)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    layout: str = "flat"
    num_classes: int = 10

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample, without the batch dimension."""
        return tuple(self.x_train.shape[1:])

    def as_layout(self, layout: str) -> DigitsData:
        """The same split viewed as "flat" rows or "image" tensors (no copy)."""
        if layout not in LAYOUTS:
            raise AccelsimError(f"unknown digits layout {layout!r}; known: {', '.join(LAYOUTS)}")
        shape = (-1, 64) if layout == "flat" else (-1, 1, 8, 8)
        return DigitsData(
            self.x_train.reshape(shape), self.y_train, self.x_test.reshape(shape), self.y_test, layout
        )

    def batch(self, size: int, *, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """A seeded random training batch (without replacement) of at most ``size`` samples."""
        g = torch.Generator().manual_seed(int(seed))
        idx = torch.randperm(len(self.y_train), generator=g)[: int(size)]
        return self.x_train[idx], self.y_train[idx]


def load_digits_split(seed: int = 0, test_fraction: float = 0.25, *, layout: str = "flat") -> DigitsData:
    """The scikit-learn digits (bundled, no download) as a stratified, seeded train/test split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_fraction < 1.0:
        raise AccelsimError(f"test_fraction must be in (0, 1), got {test_fraction}")
    digits = load_digits()
    x = digits.data.astype(np.float32) / 16.0
    y = digits.target.astype(np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_fraction, random_state=int(seed), stratify=y
    )
    mean, std = float(x_tr.mean()), float(x_tr.std())  # statistics of the training split only
    x_tr, x_te = (x_tr - mean) / std, (x_te - mean) / std
    data = DigitsData(
        torch.from_numpy(np.ascontiguousarray(x_tr)),
        torch.from_numpy(y_tr),
        torch.from_numpy(np.ascontiguousarray(x_te)),
        torch.from_numpy(y_te),
    )
    return data if layout == "flat" else data.as_layout(layout)


def split_batch(data) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) of a ``DigitsData`` (its whole training split) or of an (x, y) pair."""
    if isinstance(data, DigitsData):
        return data.x_train, data.y_train
    if isinstance(data, tuple | list) and len(data) == 2:
        return torch.as_tensor(data[0]), torch.as_tensor(data[1])
    raise AccelsimError(
        f"data must be a DigitsData or an (inputs, labels) batch, got {type(data).__name__}"
    )


def require_digits(data, method: str) -> DigitsData:
    if data is None:
        raise AccelsimError(
            f"method {method!r} trains the model and needs data=DigitsData (e.g. "
            "accelsim.workload.pruning.training.load_digits_split()); it is meant for small models only"
        )
    if not isinstance(data, DigitsData):
        raise AccelsimError(
            f"method {method!r} trains the model and needs a DigitsData with train and test "
            f"splits, not {type(data).__name__}"
        )
    return data


def mask_params(
    model: nn.Module, masks: Mapping[str, np.ndarray] | None
) -> list[tuple[nn.Parameter, torch.Tensor]]:
    """(weight, bool mask tensor) pairs for masks keyed by module name (``model.named_modules()``)."""
    if not masks:
        return []
    modules = dict(model.named_modules())
    out = []
    for name, mask in masks.items():
        if name not in modules or not isinstance(getattr(modules[name], "weight", None), torch.Tensor):
            raise AccelsimError(f"mask for {name!r}: the model has no module with a weight of that name")
        weight = modules[name].weight
        m = torch.as_tensor(np.asarray(mask, dtype=bool))
        if tuple(m.shape) != tuple(weight.shape):
            raise AccelsimError(
                f"mask for {name!r} has shape {tuple(m.shape)}, the weight {tuple(weight.shape)}"
            )
        out.append((weight, m))
    return out


@torch.no_grad()
def apply_masks(model: nn.Module, masks: Mapping[str, np.ndarray] | None) -> None:
    """Zero the pruned weights in place."""
    for weight, m in mask_params(model, masks):
        weight.mul_(m.to(weight.dtype))


def train(
    model: nn.Module,
    data: DigitsData,
    epochs: int,
    lr: float = 1e-2,
    masks: Mapping[str, np.ndarray] | None = None,
    *,
    batch_size: int = 64,
    seed: int = 0,
    weight_decay: float = 0.0,
    snapshot_step: int | None = None,
) -> dict:
    """Adam on cross entropy over the training split; pruned weights stay exactly zero.

    ``masks`` maps module names (as in ``model.named_modules()``) to bool keep-masks of the weight's
    shape.  Returns ``{"loss": [mean loss per epoch], "snapshot": state_dict or None}`` where the
    snapshot is a copy of the weights after ``snapshot_step`` optimiser steps (for IMP rewinding).
    """
    data = require_digits(data, "train")
    pairs = mask_params(model, masks)
    apply_masks(model, masks)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    g = torch.Generator().manual_seed(int(seed))
    n = len(data.y_train)
    history, snapshot, step = [], None, 0
    if snapshot_step == 0:
        snapshot = {k: v.detach().clone() for k, v in model.state_dict().items()}
    was_training = model.training
    model.train()
    for _ in range(int(epochs)):
        order = torch.randperm(n, generator=g)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(data.x_train[idx]), data.y_train[idx])
            loss.backward()
            for weight, m in pairs:
                if weight.grad is not None:
                    weight.grad.mul_(m.to(weight.grad.dtype))
            opt.step()
            with torch.no_grad():
                for weight, m in pairs:
                    weight.mul_(m.to(weight.dtype))
            total += float(loss.detach()) * len(idx)
            step += 1
            if snapshot_step is not None and step == snapshot_step:
                snapshot = {k: v.detach().clone() for k, v in model.state_dict().items()}
        history.append(total / n)
    model.train(was_training)
    return {"loss": history, "snapshot": snapshot}


@torch.no_grad()
def evaluate(model: nn.Module, data: DigitsData, *, split: str = "test") -> float:
    """Accuracy (0..1) on the held-out test split (``split="train"`` for the training split)."""
    data = require_digits(data, "evaluate")
    if split not in ("test", "train"):
        raise AccelsimError(f"split must be 'test' or 'train', got {split!r}")
    x, y = (data.x_test, data.y_test) if split == "test" else (data.x_train, data.y_train)
    was_training = model.training
    model.eval()
    pred = model(x).argmax(dim=1)
    model.train(was_training)
    return float((pred == y).float().mean())
