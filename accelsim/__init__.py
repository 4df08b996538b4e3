"""accelsim: cycle-approximate accelerator co-design on real pruned PyTorch models."""

__version__ = "0.1.0"
