import os
import tempfile

os.environ.setdefault("OMP_NUM_THREADS", "1")  # 2-core machines: torch threads fight the other work

# Tests never write into the repo: the workload cache goes to a temp dir.
_tmp = tempfile.gettempdir()
os.environ.setdefault("ACCELSIM_CACHE_DIR", os.path.join(_tmp, "accelsim-test-workload-cache"))
