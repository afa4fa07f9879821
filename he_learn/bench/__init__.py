"""Benchmarks: every figure is measured in the same run as the figures it is
compared with, and written as JSON records (see :mod:`he_learn.bench.records`).
This package sits at the top of the layer stack and may import everything."""
