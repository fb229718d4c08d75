"""What a reader of the book sees: tables with units and fixed precision, numbers glued into the text.

* :func:`readable_table` -- a pandas Styler (or several, for a wide table) with the unit of every
  column in its header, a fixed number of decimals per unit (:data:`UNIT_DECIMALS`: Gt/yr to 2, cm/yr
  to 1, correlations to 2), no scientific notation for ordinary magnitudes, no ``-0.00``, a caption, and
  at most ``max_columns`` columns per table so that it fits the page width;
* :func:`glue_numbers` -- myst-nb ``glue`` of computed numbers, so that the prose of a chapter
  (``{glue:text}`key:.1f```) is filled from the run, never typed in;
* :func:`glue_paper_numbers` -- the same for the paper's numbers (:func:`hma_mascon.paper.paper_numbers`),
  under keys ``paper.<id>``.

Written by hand because pandas has no notion of a column's unit; the formatting itself is pandas'
Styler and the gluing is myst-nb's.
"""

from __future__ import annotations

import math
import numbers
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from ..paper import paper_numbers
from .tables import paper_numbers_table

__all__ = ["UNIT_DECIMALS", "format_number", "readable_table", "show_table", "glue_numbers",
           "glue_paper_numbers", "glue_markdown", "without_data_dir"]

#: decimals shown per unit (the one table to edit to change how the book prints a quantity)
UNIT_DECIMALS = {
    "Gt/yr": 2, "Gt": 1, "cm/yr": 1, "cm": 1, "mm": 1, "m": 2, "km": 0, "km²": 0, "deg": 2, "%": 0,
    "months": 0, "count": 0, "year": 0, "": 2, "1": 2,
}

#: default units of the column names the chapters' tables share (a table may override any)
COLUMN_UNITS = {
    "trend": "Gt/yr", "error95": "Gt/yr", "sigma_fit": "Gt/yr", "sigma_gia": "Gt/yr", "damping": "Gt/yr",
    "error95_fit": "Gt/yr", "error95_random": "Gt/yr", "sigma_bias": "Gt/yr", "trend_scaled": "Gt/yr", "error95_scaled": "Gt/yr", "paper": "Gt/yr",
    "truth": "Gt/yr", "ours": "Gt/yr", "gain": "1", "n_months": "months", "n": "count", "number": "count",
    "r": "1", "R2": "1", "slope": "1", "intercept": "Gt/yr",
}


def format_number(value, decimals: int = 2) -> str:
    """``value`` with ``decimals`` decimals, ``–`` for missing, never ``-0.00``; plain text otherwise.

    Magnitudes below ``10**-decimals`` (but not zero) and at or above 1e7 are the only ones printed
    in scientific notation: ordinary magnitudes never are.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if not isinstance(value, numbers.Number):
        return str(value)
    v = float(value)
    if not math.isfinite(v):
        return "–" if math.isnan(v) else ("∞" if v > 0 else "−∞")
    if v != 0 and (abs(v) >= 1e7 or (abs(v) < 0.5 * 10.0 ** -decimals and decimals > 0 and abs(v) < 1e-4)):
        return f"{v:.2e}"
    out = f"{round(v, decimals) + 0.0:.{decimals}f}"
    return "0" + out[2:] if out.startswith("-0") and float(out) == 0 else out


def without_data_dir(text, data_dir) -> str:
    """``text`` with the data directory's absolute path (as given and resolved) taken out, so that a
    file under it is named relative to it (``glaciers/x.nc``): a page shows no path of the build machine."""
    text = str(text)
    if not data_dir:
        return text
    for prefix in {str(Path(str(data_dir)).resolve()), str(data_dir).rstrip("/")}:
        text = text.replace(prefix + "/", "").replace(prefix, "")
    return text


def _unit_of(column, units: Mapping) -> str | None:
    if column in units:
        return units[column]
    return COLUMN_UNITS.get(str(column))


def readable_table(df: pd.DataFrame, *, units: Mapping | None = None, decimals: Mapping | None = None,
                   caption: str | None = None, max_columns: int = 7, index: bool = True,
                   rename: Mapping | None = None) -> list:
    """``df`` as one or more pandas Stylers a reader can read.

    Parameters
    ----------
    df : pandas.DataFrame
    units : mapping, optional
        Unit per column (``"Gt/yr"``, ``"cm/yr"``, ``"1"`` for dimensionless...); defaults from
        :data:`COLUMN_UNITS`. The unit is shown in the header as ``name [unit]`` and chooses the
        decimals (:data:`UNIT_DECIMALS`).
    decimals : mapping, optional
        Decimals per column, overriding the unit's.
    caption : str, optional
        Shown above the (first) table.
    max_columns : int
        A wider table is split into several with at most this many columns each (the index is repeated).
    index : bool
        Show the index.
    rename : mapping, optional
        Display names of columns (before the unit is appended).

    Returns
    -------
    list of pandas.io.formats.style.Styler
    """
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"readable_table needs a DataFrame, got {type(df).__name__}")
    if max_columns < 1:
        raise ValueError(f"max_columns = {max_columns}: must be at least 1")
    units = dict(units or {})
    decimals = dict(decimals or {})
    rename = dict(rename or {})
    labels, formatters = {}, {}
    for col in df.columns:
        unit = _unit_of(col, units)
        name = str(rename.get(col, col)).replace("_", " ")
        labels[col] = f"{name} [{unit}]" if unit not in (None, "", "1", "count") else name
        nd = decimals.get(col, UNIT_DECIMALS.get(unit or "", 2))
        if pd.api.types.is_integer_dtype(df[col].dtype):
            nd = 0
        formatters[labels[col]] = (lambda v, nd=nd: format_number(v, nd))
    shown = df.rename(columns=labels)
    cols = list(shown.columns)
    chunks = [cols[i:i + max_columns] for i in range(0, len(cols), max_columns)] or [[]]
    out = []
    for k, chunk in enumerate(chunks):
        part = shown[chunk]
        sty = part.style.format({c: formatters[c] for c in chunk}, na_rep="–")
        sty = sty.format_index(lambda v: format_number(v, 2) if isinstance(v, float) else str(v), axis=0)
        sty = sty.set_table_attributes('class="hma-table"')
        if not index:
            sty = sty.hide(axis="index")
        if caption:
            sty = sty.set_caption(caption if k == 0 else f"{caption} (continued)")
        out.append(sty)
    return out


def show_table(df: pd.DataFrame, **kwargs) -> None:
    """Display :func:`readable_table` (inside a notebook)."""
    from IPython.display import display  # noqa: PLC0415 - IPython only inside a kernel

    for sty in readable_table(df, **kwargs):
        display(sty)


class _PlainText(str):
    """A string whose ``repr`` is itself, so that ``{glue:text}`` pastes it without quotes."""

    def __repr__(self) -> str:
        return str(self)


def glue_numbers(values: Mapping, *, prefix: str = "") -> None:
    """Glue every number of ``values`` (myst-nb ``glue``, not displayed).

    Returns nothing, so that a cell ending with this call shows nothing on the page.

    The prose cites them as ``{glue:text}`<prefix><key>:.1f```. Values that are not finite numbers
    are glued as the text ``"–"`` so that a page never shows ``nan``.
    """
    from myst_nb import glue  # noqa: PLC0415 - myst-nb only inside a book kernel

    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
            glue(name, int(value), display=False)  # counts read "84", not "84.0"
        elif isinstance(value, numbers.Number) and math.isfinite(float(value)):
            glue(name, float(value), display=False)
        else:
            glue(name, _PlainText(value if isinstance(value, str) else "–"), display=False)


def glue_paper_numbers(prefixes=("",)) -> None:
    """Glue the paper's numbers whose id starts with one of ``prefixes`` as ``paper.<id>``.

    Where the paper quotes an error with the number (``tolerance_kind`` ``quoted``), it is glued as
    ``paper.<id>.error``.
    """
    ref = paper_numbers()
    chosen = {}
    for prefix in prefixes:
        chosen.update(paper_numbers_table(prefix))
    for q in list(chosen):
        if ref.loc[q, "tolerance_kind"] == "quoted":  # the paper's own stated error (e.g. ±9.6 Gt/yr)
            chosen[f"{q}.error"] = float(ref.loc[q, "tolerance"])
    glue_numbers(chosen, prefix="paper.")


def glue_markdown(name: str, text: str) -> None:
    """Glue a Markdown sentence built from the run (pasted with ``{glue:md}`name```), e.g. a sentence
    that exists only in the synthetic world (the truth's value) and is empty on real data.
    Returns nothing (a cell ending with this call shows nothing)."""
    from IPython.display import Markdown  # noqa: PLC0415 - IPython only inside a kernel
    from myst_nb import glue  # noqa: PLC0415 - myst-nb only inside a book kernel

    glue(name, Markdown(text or " "), display=False)
