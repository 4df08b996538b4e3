"""The workload floor: models, pruning, tracing, the workload cache (the only floor that imports torch).

torch's large CPU tensors on transparent huge pages (``THP_MEM_ALLOC_ENABLE``, read when torch is
imported; a value the user set is kept): a 7B decoder built one layer at a time allocates and frees
gigabytes per layer, and 4 KiB page faults made up a third of its time (benchmarks/results/llm7b.md).
"""

import os

os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")
