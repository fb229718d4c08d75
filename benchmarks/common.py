"""Helpers shared by the benchmark scripts (run as ``python benchmarks/<script>.py``)."""

from __future__ import annotations


class CallCounter:
    """Counts the trial alphas of the MSE/GCV selection (criterion evaluations)."""

    def __init__(self):
        self.n = 0

    def wrap(self, fn):
        def inner(*a, **k):
            self.n += 1
            return fn(*a, **k)

        return inner
