"""Shape checks of the records of a text data file: token counts and the written form of numbers.

A file cut inside its last record still parses: ``... 0.7455E-11`` cut to ``... 0.74`` is a valid
float, and ``gfc 96 96 ... 7.2e-11`` cut to ``... 7.2`` even keeps its token count. What gives such a
record away is that it does not look like the others. :func:`record_problem` compares

* the token count of every record with the count of the other records (the most common one);
* the numeric form of every float field: a field without an exponent where the other records of
  that column have one is refused (zeros and NaN excepted, which writers may shorten);
* for the last record of a file that does not end with a newline (a cut file never does), the
  full form of each field -- digits after the decimal point, presence and width of the exponent --
  against the forms the preceding records use in that column.

It returns the first problem as ``(line, text)`` instead of raising, so each reader raises its
own exception class (e.g. :class:`hma_mascon.io_grace.MalformedFileError`) naming the file.
Plain Python and :mod:`re`; the exponent counts use :meth:`str.count` on a joined column, so a file of
5000 records costs about a millisecond.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Sequence

__all__ = ["number_form", "record_problem"]

_NUMBER = re.compile(r"^[+-]?(\d*)(?:\.(\d*))?(?:([eEdD])[+-]?(\d+))?$")
_EXP_CHARS = "eEdD"
#: how many preceding records give the reference forms of the last record
_REFERENCE_RECORDS = 200


def number_form(token: str) -> tuple | None:
    """The written form of a number: ``(digits after the point, has exponent, exponent digits)``.

    ``None`` for tokens that are not plain decimal numbers (``NaN``, ``inf``, words).
    """
    m = _NUMBER.match(token)
    if m is None or not (m.group(1) or m.group(2)):
        return None
    return (len(m.group(2) or ""), m.group(3) is not None, len(m.group(4) or ""))


def _is_zero_or_nan(token: str) -> bool:
    try:
        value = float(token.replace("D", "E").replace("d", "e"))
    except ValueError:
        return True  # non-numeric tokens are the value parser's business
    return value == 0.0 or value != value


def record_problem(
    lines: Sequence[int],
    tokens: Sequence[Sequence[str]],
    float_columns: Sequence[int],
    names: Sequence[str],
    ends_with_newline: bool,
) -> tuple[int, str] | None:
    """The first record that does not look like the others, or None.

    Parameters
    ----------
    lines : sequence of int
        1-based line number of each record.
    tokens : sequence of sequences of str
        The whitespace-split tokens of each record (including the record key, if any).
    float_columns : sequence of int
        Token indices of the floating-point fields to compare.
    names : sequence of str
        Names of those fields, for the message.
    ends_with_newline : bool
        Whether the file's text ends with a newline; when not, the last record is compared in
        full (a file cut inside its last record has no final newline).

    Returns
    -------
    (int, str) or None
        Line number and description of the first problem.
    """
    n = len(tokens)
    if n == 0:
        return None
    counts = Counter(len(t) for t in tokens)
    usual = counts.most_common(1)[0][0]
    cut_hint = "" if ends_with_newline else "; the file does not end with a newline: cut inside its last record?"
    if len(counts) > 1:
        k = next(i for i, t in enumerate(tokens) if len(t) != usual)
        hint = cut_hint if k == n - 1 else ""
        return lines[k], f"record has {len(tokens[k])} fields, the other records have {usual}{hint}"
    ncol = usual
    for col, name in zip(float_columns, names):
        if col >= ncol:
            continue
        column = [t[col] for t in tokens]
        joined = "".join(column)
        with_exp = sum(joined.count(c) for c in _EXP_CHARS)
        if n > 1 and 2 * with_exp >= n and with_exp < n:
            for k, tok in enumerate(column):
                if not any(c in tok for c in _EXP_CHARS) and not _is_zero_or_nan(tok):
                    example = next(t for t in reversed(column[:k] or column)
                                   if any(c in t for c in _EXP_CHARS) and not _is_zero_or_nan(t))
                    hint = cut_hint if k == n - 1 else ""
                    return lines[k], (f"{name} {tok!r} has no exponent, unlike the other records "
                                      f"(e.g. {example!r}): a cut or damaged number{hint}")
    if not ends_with_newline and n > 1:
        last = tokens[-1]
        ref = tokens[max(0, n - 1 - _REFERENCE_RECORDS): n - 1]
        for col, name in zip(float_columns, names):
            if col >= ncol:
                continue
            forms = {number_form(t[col]) for t in ref}
            form = number_form(last[col])
            if form is not None and form not in forms:
                example = ref[-1][col]
                return lines[-1], (f"{name} {last[col]!r} is written unlike the same field of the records "
                                   f"before it (e.g. {example!r}) and the file does not end with a newline: "
                                   "the file is cut inside its last record")
    return None
