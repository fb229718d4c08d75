"""What the chapters share: the cached whole-box solution, its inputs, the reduced problem.

Every notebook that needs the solution calls :func:`book_solution`, so all chapters hit one cache
entry (:func:`hma_mascon.book.cache.cached_solution`); the inputs come from the one input path
(:func:`hma_mascon.inputs.prepare`), the same as ``hma-mascon solve``.
"""

from __future__ import annotations

import xarray as xr

from ..experiments import fit_variant, load_reduced_problem, reduced_box, reduced_solution_maps
from ..geometry import mascon_grid
from ..inputs import prepare
from ..params import names
from ..pipeline import run_solution
from ..regions import load_regions
from .cache import cached, cached_solution

__all__ = ["book_solution", "book_inputs", "book_grid", "book_regions", "reduced_problem_for_book",
           "reduced_book_solution"]


def book_solution(params, **extra) -> xr.Dataset:
    """The book's shared solution: :func:`hma_mascon.pipeline.run_solution` of the book's preset and
    parameters, cached.

    ``extra`` goes to ``run_solution`` (and into nothing else: do not pass anything that changes
    the result, or the cache key would lie).
    """
    def compute():
        return run_solution(params["data_dir"], params.preset, progress=False,
                            **{name: params[name] for name in names()}, **extra)

    return cached_solution(params, compute)


def book_grid(params):
    """The mascon grid of the book's parameters (without the buffer ring)."""
    return mascon_grid(params["box"], params["mascon_step_deg"])


def book_inputs(params):
    """GRACE anomalies of the book's period and the priors on the book's grid, cached (one read and
    one regridding, about a minute on the full box, shared by chapters 2-4).

    Returns
    -------
    (stokes, priors) : xarray.Dataset, dict
    """
    def compute():
        inputs = prepare(params["data_dir"], params, grid=book_grid(params), gia=False, soil_moisture=False)
        return inputs.stokes, inputs.priors

    return cached({**params, "what": "GRACE anomalies and priors"}, compute, name="inputs")


def book_regions(data_dir):
    """The HiMAP region polygons of the data directory, or None when it has none (maps only)."""
    try:
        return load_regions(data_dir)
    except Exception:  # noqa: BLE001 - outlines are optional decoration
        return None


def reduced_problem_for_book(params, month_step=7, size=(6.0, 5.0), centre=(80.0, 32.5), buffer_deg=1.5):
    """The reduced problem of chapters 3 and 9 for the book's parameters (sub-box, every
    ``month_step``-th month; ``month_step`` coprime with 12 so every calendar month occurs)."""
    box = reduced_box(params["box"], centre=centre, size=size, margin=buffer_deg + 0.5)
    return load_reduced_problem(params["data_dir"], box, settings=params, month_step=month_step,
                                buffer_deg=buffer_deg)


def reduced_book_solution(params) -> xr.Dataset:
    """The book's configuration fitted on the reduced problem of the book's parameters
    (:func:`reduced_problem_for_book`), as :func:`hma_mascon.experiments.reduced_solution_maps`."""
    problem = reduced_problem_for_book(params)
    return reduced_solution_maps(problem, fit_variant(problem))
