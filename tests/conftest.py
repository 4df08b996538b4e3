import os
import tempfile

os.environ.setdefault("OMP_NUM_THREADS", "1")  # 2-core machines: torch threads fight the other work

# Tests never write into the repo: numba's cache and the workload cache go to a temp dir.
_tmp = tempfile.gettempdir()
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(_tmp, "accelsim-test-numba-cache"))
os.environ.setdefault("ACCELSIM_CACHE_DIR", os.path.join(_tmp, "accelsim-test-workload-cache"))
