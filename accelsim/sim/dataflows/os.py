"""Output stationary: each PE owns one output; inputs flow right, weights flow down, K streams."""

from accelsim.sim.dataflows.base import DATAFLOWS, Dataflow

DATAFLOWS.add("os", Dataflow(
    name="os", rows_dim="m", cols_dim="n", time_dim="k", stationary="outputs",
    description="output stationary: rows take output pixels (M), columns filters (N), K streams in time",
))
