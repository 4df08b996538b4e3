import os
import tempfile

# Tests never write into the repo: numba's cache and the workload cache go to a temp dir.
os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(tempfile.gettempdir(), "accelsim-test-numba-cache"))
os.environ.setdefault("ACCELSIM_CACHE_DIR", os.path.join(tempfile.gettempdir(), "accelsim-test-workload-cache"))
