"""The book's parameters: which data, which preset, which overrides (from the parameter table).

Every notebook's ``parameters`` cell holds four names, and papermill injects what a person gave
``hma-mascon book``:

.. code-block:: python

    data = "synthetic"   # or "real"
    data_dir = None      # default HMA_MASCON_DATA (real) or the cached synthetic world
    preset = "default"   # hma_mascon.params.PRESETS
    overrides = {}       # any row of hma_mascon.params.PARAMETERS, e.g. {"altitude_km": 400}

:func:`setup_notebook` (the first code cell after it) validates them against the parameter table
(:mod:`hma_mascon.params`): values are coerced as a person types them (``"450 km"``, ``"GCV"``),
wrong ones fail before anything runs, naming the parameter, the value and what is accepted.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import matplotlib

from ..datadir import is_synthetic
from ..params import PARAMETERS, ParameterError, Settings, parse_assignments, resolve
from ..synthetic import ensure_synthetic_data_dir
from .provenance import provenance_banner

__all__ = ["BOOK_KEYS", "BookParameters", "validate_parameters", "resolve_book_data_dir", "setup_notebook",
           "parse_assignments", "ParameterError"]

#: The names of a notebook's ``parameters`` cell.
BOOK_KEYS = ("data", "data_dir", "preset", "overrides")


class BookParameters(Settings):
    """Validated book parameters: the complete :class:`~hma_mascon.params.Settings` of the preset and
    overrides, plus ``data`` and ``data_dir``; items are also attributes (``params.altitude_km``)."""

    def __reduce__(self):
        return (_rebuild, (dict(self), self.preset))

    @property
    def synthetic(self) -> bool:
        """The data directory is a synthetic world with a known truth."""
        return is_synthetic(self.get("data_dir"))


def _rebuild(values, preset):
    return BookParameters(values, preset)


def validate_parameters(params: dict | None = None) -> BookParameters:
    """Check, coerce and complete book parameters.

    Parameters
    ----------
    params : dict
        ``data`` ({"synthetic", "real"}), ``data_dir`` (path or None), ``preset`` and
        ``overrides`` (a dict of table rows); table rows may also be given at the top level (the
        ``-p name=value`` options). Missing keys take their defaults.

    Returns
    -------
    BookParameters

    Raises
    ------
    ParameterError
        Naming the parameter, the value and what is accepted.
    """
    params = dict(params or {})
    data = str(params.pop("data", "synthetic") or "synthetic").strip().lower()
    if data not in ("synthetic", "real"):
        raise ParameterError(f"book parameter 'data' = {data!r} is not accepted: expected 'synthetic' or 'real'")
    data_dir = params.pop("data_dir", None)
    if isinstance(data_dir, str) and data_dir.strip().lower() in ("", "none", "null"):
        data_dir = None
    preset = str(params.pop("preset", "default") or "default")
    overrides = params.pop("overrides", None) or {}
    if not isinstance(overrides, dict):
        raise ParameterError(f"book parameter 'overrides' = {overrides!r}: expected a dict of parameter values")
    unknown = [k for k in params if k not in PARAMETERS]
    if unknown:
        raise ParameterError(f"unknown book parameter(s) {unknown}; accepted: {', '.join(BOOK_KEYS)} and the "
                             f"rows of the parameter table: {', '.join(PARAMETERS)}")
    settings = resolve(preset, {**overrides, **params})
    out = BookParameters({"data": data, "data_dir": None if data_dir is None else
                          str(Path(os.path.expanduser(str(data_dir)))), **settings}, settings.preset)
    return out


def resolve_book_data_dir(params: dict) -> str:
    """The data directory the notebooks read.

    Real data: ``data_dir`` or ``HMA_MASCON_DATA`` (it must exist). Synthetic: ``data_dir`` if
    given, else :func:`hma_mascon.synthetic.ensure_synthetic_data_dir` of ``seed`` (the synthetic
    world, written on first use).
    """
    if params.get("data") == "real":
        path = params.get("data_dir") or os.environ.get("HMA_MASCON_DATA")
        if not path:
            raise ParameterError("book parameter 'data' = 'real' needs 'data_dir' (or HMA_MASCON_DATA)")
        if not Path(path).is_dir():
            raise ParameterError(f"book parameter 'data_dir' = {path!r}: no such directory")
        return str(Path(path).resolve())
    if params.get("data_dir"):
        return str(Path(params["data_dir"]).resolve())
    return str(ensure_synthetic_data_dir(int(params.get("seed", PARAMETERS["seed"].default))))


def format_warning_for_page(message, category, filename, lineno, line=None) -> str:
    """:func:`warnings.formatwarning` for a rendered page: ``Category: message``, without the file
    path and source line of the build machine (set by :func:`setup_notebook`)."""
    return f"{category.__name__}: {message}\n"


def setup_notebook(namespace: dict, *, need_data: bool = True, show_banner: bool = True) -> BookParameters:
    """First code cell after ``parameters``: validate, resolve the data and show provenance.

    Parameters
    ----------
    namespace : dict
        The notebook's ``globals()``; :data:`BOOK_KEYS` are read from it (the ``parameters`` cell
        defines them, papermill overrides them).
    need_data : bool
        Resolve the data directory (writing the synthetic world if needed).
    show_banner : bool
        Display :func:`~hma_mascon.book.provenance.provenance_banner`.

    Returns
    -------
    BookParameters
    """
    params = validate_parameters({k: namespace[k] for k in BOOK_KEYS if k in namespace})
    if need_data:
        params["data_dir"] = resolve_book_data_dir(params)
    namespace["params"] = params
    # Progress bars in a rendered page: tqdm.auto falls back to text bars without ipywidgets and
    # warns about it; the text bar is what we want in a static book.
    warnings.filterwarnings("ignore", message="IProgress not found")
    # A warning on a page says what happened, not where in the build machine's files it was raised.
    warnings.formatwarning = format_warning_for_page
    matplotlib.rcParams.update({"figure.dpi": 100, "savefig.dpi": 110, "figure.autolayout": False})
    if show_banner:
        from IPython.display import display  # noqa: PLC0415 - IPython only inside a kernel

        display(provenance_banner(params))
    return params
