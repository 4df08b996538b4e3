"""Input stationary: each PE holds one input element; weights flow right, partial sums down, N streams."""

from accelsim.sim.dataflows.base import DATAFLOWS, Dataflow

DATAFLOWS.add("is", Dataflow(
    name="is", rows_dim="k", cols_dim="m", time_dim="n", stationary="inputs",
    description="input stationary: rows take the reduction (K), columns output pixels (M), filters stream",
))
