"""Helpers shared by the benchmark scripts (run as ``python benchmarks/<script>.py``)."""

from __future__ import annotations


class CallCounter:
    """Counts the trial alphas of the MSE/GCV selection (criterion evaluations)."""

    def __init__(self):
        self.n = 0

    def wrap(self, fn, count=None):
        """``fn`` that adds 1 per call, or ``count(*args, **kwargs)`` (several alphas per call)."""
        def inner(*a, **k):
            self.n += 1 if count is None else count(*a, **k)
            return fn(*a, **k)

        return inner
