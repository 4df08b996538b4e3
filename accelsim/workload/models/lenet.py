"""LeNet-5 (ReLU and max-pool variant of LeCun et al. 1998) for 1x32x32 images, and its 8x8 twin.

``LeNet5(in_size=8)`` keeps every layer's kernel and channel counts and pads the two 5x5 convs by 2,
so scikit-learn's 8x8 digits run through the same architecture (fc1 then sees 16*2*2 = 64 inputs).
"""

from __future__ import annotations

import torch
from torch import nn


class LeNet5(nn.Module):
    def __init__(self, in_size: int = 32, num_classes: int = 10):
        super().__init__()
        pad = 0 if in_size == 32 else 2
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=pad)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5, padding=pad)
        self.pool = nn.MaxPool2d(2)
        self.relu = nn.ReLU()
        side = ((in_size + 2 * pad - 4) // 2 + 2 * pad - 4) // 2
        self.fc1 = nn.Linear(16 * side * side, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.relu(self.conv1(x)))
        x = self.pool(self.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = self.relu(self.fc1(x))
        x = self.relu(self.fc2(x))
        return self.fc3(x)
