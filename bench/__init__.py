"""Benchmarks: each module measures figures against a target and writes bench/results/<name>.json."""
