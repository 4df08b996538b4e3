"""Weight stationary: each PE holds one weight; inputs flow right, partial sums flow down, M streams."""

from accelsim.sim.dataflows.base import DATAFLOWS, Dataflow

DATAFLOWS.add("ws", Dataflow(
    name="ws", rows_dim="k", cols_dim="n", time_dim="m", stationary="weights",
    description="weight stationary: rows take the reduction (K), columns filters (N), output pixels stream",
))
