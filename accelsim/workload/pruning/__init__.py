"""Pruning: patterns (granularities, numpy only), methods (scores and masks; torch) and applying them
to torch models (``apply``; torch).  Import the submodule you need: reading a cached workload never
imports torch."""
