"""The paper's numbers and the reproduction ledger (METHODS.md §14).

Heavy lifting: **pyyaml** and **pandas**.  The numbers themselves live in
``hma_mascon/data/paper_numbers.yml`` (value, unit, source in the paper, tolerance and its kind), so
that the book, the CSV ledger and the tests read one table.
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd
import yaml

from .safeio import atomic_path, exclusive_lock

_KINDS = ("absolute", "quoted", "relative")


def paper_numbers():
    """All numbers to reproduce, as a DataFrame indexed by ``id``."""
    text = resources.files("hma_mascon").joinpath("data/paper_numbers.yml").read_text()
    raw = yaml.safe_load(text)
    df = pd.DataFrame(raw["numbers"])
    if df["id"].duplicated().any():
        raise ValueError(f"paper_numbers.yml: duplicated ids {sorted(df['id'][df['id'].duplicated()])}")
    bad = sorted(set(df["tolerance_kind"]) - set(_KINDS))
    if bad:
        raise ValueError(f"paper_numbers.yml: unknown tolerance kinds {bad}")
    return df.set_index("id")


def _allowed(row):
    if row.tolerance_kind == "relative":
        return row.tolerance * abs(row.value)
    return row.tolerance


def ledger(ours):
    """Compare our numbers with the paper's.

    Parameters
    ----------
    ours : dict
        ``{id: value}`` or ``{id: (value, reason)}``; ids as in ``paper_numbers.yml``.  Missing ids
        appear with ``ours`` = NaN and reason "not computed"; unknown ids raise ``KeyError``.

    Returns
    -------
    pandas.DataFrame
        Columns ``quantity``, ``paper``, ``ours``, ``difference`` (ours - paper), ``tolerance``
        (allowed |difference|), ``within_tolerance``, ``unit``, ``source``, ``reasons``.
    """
    ref = paper_numbers()
    unknown = sorted(set(ours) - set(ref.index))
    if unknown:
        raise KeyError(f"unknown paper quantities {unknown}")
    rows = []
    for qid, row in ref.iterrows():
        entry = ours.get(qid)
        reason = row.note or ""
        if isinstance(entry, (tuple, list)):
            value, why = entry
            reason = "; ".join(r for r in (why, reason) if r)
        else:
            value = entry
        value = np.nan if value is None else float(value)
        if not np.isfinite(value):
            reason = "; ".join(r for r in ("not computed", reason) if r)
        diff = value - row.value
        tol = _allowed(row)
        rows.append({"quantity": qid, "paper": row.value, "ours": value, "difference": diff,
                     "tolerance": tol, "within_tolerance": bool(np.isfinite(diff) and abs(diff) <= tol + 1e-12),
                     "unit": row.unit, "source": row.source, "reasons": reason})
    return pd.DataFrame(rows)


def write_ledger(path, ours):
    """Write :func:`ledger` as CSV to ``path``; returns the DataFrame.

    Written atomically under an exclusive lock (:mod:`hma_mascon.safeio`): a failure names
    ``path`` and leaves the previous ledger intact.
    """
    df = ledger(ours)
    with exclusive_lock(path), atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return df
