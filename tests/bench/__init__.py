"""Benchmarks (`make bench`): each measures a floor in the same run."""

import os

# The benchmarks' own API processes sign tokens with this (never a deployment's key).
SECRET = "bench-secret-key-0123456789-abcdefghijklmnopqrstuv"


def env_int(name: str, default: int) -> int:
    """A knob from the environment (``BENCH_…``), or its default."""
    return int(os.environ.get(name, str(default)))
