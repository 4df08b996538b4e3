"""A 64-128-64-10 MLP for scikit-learn's 8x8 digits (input (64,) or (1, 8, 8) per sample)."""

from __future__ import annotations

import torch
from torch import nn


class MLPDigits(nn.Module):
    def __init__(self, sizes: tuple[int, ...] = (64, 128, 64, 10)):
        super().__init__()
        self.fc1 = nn.Linear(sizes[0], sizes[1])
        self.fc2 = nn.Linear(sizes[1], sizes[2])
        self.fc3 = nn.Linear(sizes[2], sizes[3])
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(x, 1)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)
