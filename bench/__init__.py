"""Benchmarks, run through the CLI: ``icv bench NAME``. Each prints throughput and
latency percentiles and ends with one JSON line of its figures."""
