"""Dataflows (the dims table), the dense fold plan and the timing models."""

from accelsim.sim.dataflows.base import DATAFLOWS, Dataflow, FoldPlan, plan_folds
from accelsim.sim.dataflows.timing import TIMING_MODELS, TimingModel

__all__ = ["DATAFLOWS", "Dataflow", "FoldPlan", "plan_folds", "TIMING_MODELS", "TimingModel"]
