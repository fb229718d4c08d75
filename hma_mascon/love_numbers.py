"""Elastic load Love numbers k'_n (METHODS.md section 1, AMB-19).

The heavy lifting is done by gravity-toolkit (Sutterley): its package data ship the PREM
load Love numbers of Han & Wahr (1995), Gegout et al. (2010) and Wang et al. (2012), and
:func:`gravity_toolkit.read_love_numbers` reads them, interpolates missing degrees and applies
the Blewitt (2003) isomorphism for degree 1. Written here by hand: only the choice of model
file, the reference-frame guard (the CM frame is refused because 1 + k'_1 = 0 there, which
makes kappa_1 = 1/(1 + k'_1) infinite), the optional Swenson et al. (2008) degree-1 value and
the labelling as an :class:`xarray.DataArray` with its provenance.

References
----------
Han, D. & Wahr, J. (1995), Geophys. J. Int. 120, 287-311.
Gegout, P., Boy, J.-P., Hinderer, J. & Ferhat, G. (2010), Geophys. Res. Abstr.
Wang, H. et al. (2012), Comput. Geosci. 49, 190-199, doi:10.1016/j.cageo.2012.06.022.
Blewitt, G. (2003), J. Geophys. Res. 108(B2), 2103.
Swenson, S., Chambers, D. & Wahr, J. (2008), J. Geophys. Res. 113, B08410.
"""

from __future__ import annotations

import importlib.metadata
import warnings
from pathlib import Path

import numpy as np
import xarray as xr

# gravity_toolkit.tools runs warnings.filterwarnings("ignore") at import, which would silence every
# warning of the process (dropped months, small boxes, implausible cells) from then on
with warnings.catch_warnings():
    import gravity_toolkit
    from gravity_toolkit.read_love_numbers import read_love_numbers

#: model key -> (package data file, header lines, columns, citation)
LOVE_MODELS = {
    "han_wahr": ("love_numbers", 2, ["l", "hl", "kl", "ll"], "Han and Wahr (1995), PREM"),
    "gegout": ("Load_Love2_CE.dat", 3, ["l", "hl", "ll", "kl"], "Gegout et al. (2010), PREM"),
    "wang2012": (
        "PREM-LLNs-truncated.dat",
        1,
        ["l", "hl", "ll", "kl", "nl", "nk"],
        "Wang et al. (2012), PREM",
    ),
}

#: Frames in which degree-1 Love numbers are finite (Blewitt 2003).
ALLOWED_FRAMES = ("CF", "CE", "CH", "CL")

#: k'_1 in the CF frame quoted by Swenson et al. (2008).
K1_CF_SWENSON2008 = 0.021


def love_data_path(model: str = "han_wahr") -> Path:
    """Path of the gravity-toolkit package-data file of a Love-number ``model``."""
    if model not in LOVE_MODELS:
        raise ValueError(f"unknown Love-number model {model!r}; choose one of {sorted(LOVE_MODELS)}")
    return Path(gravity_toolkit.__file__).parent / "data" / LOVE_MODELS[model][0]


def load_love_numbers(
    nmax: int, model: str = "han_wahr", frame: str = "CF", degree1: str | float = "blewitt"
) -> xr.DataArray:
    r"""Elastic load Love numbers :math:`k'_n`, n = 0..nmax.

    Parameters
    ----------
    nmax : int
        Maximum degree (>= 1).
    model : {"han_wahr", "gegout", "wang2012"}
        PREM load Love numbers of Han & Wahr (1995) (file ``love_numbers``), Gegout et al.
        (2010) (``Load_Love2_CE.dat``) or Wang et al. (2012) (``PREM-LLNs-truncated.dat``),
        all from the gravity-toolkit package data.
    frame : {"CF", "CE", "CH", "CL"}
        Reference frame of degree 1. ``"CM"`` is refused: there :math:`1 + k'_1 = 0` and
        :math:`\kappa_1 = 1/(1+k'_1)` is infinite (METHODS.md AMB-19).
    degree1 : "blewitt" or float
        ``"blewitt"`` (default) applies the Blewitt (2003) isomorphism to the model's
        degree-1 numbers, :math:`k'_1 \leftarrow k'_1 - (h'_1 + 2 l'_1)/3` for CF
        (0.0274 for Han & Wahr); a float (e.g. :data:`K1_CF_SWENSON2008` = 0.021, Swenson
        et al. 2008) overrides :math:`k'_1`.

    Returns
    -------
    xarray.DataArray
        :math:`k'_n` over ``degree`` 0..nmax (:math:`k'_0 = 0`, mass conservation), attrs
        ``source`` (package, version, file), ``frame``, ``model``, ``degree1``.
    """
    nmax = int(nmax)
    if nmax < 1:
        raise ValueError(f"nmax must be >= 1, got {nmax}")
    frame = str(frame).upper()
    if frame == "CM":
        raise ValueError(
            "frame='CM' is not allowed: in the CM frame k'_1 = -1, so 1 + k'_1 = 0 and "
            "kappa_1 = 1/(1 + k'_1) is infinite; use frame='CF' (METHODS.md AMB-19)"
        )
    if frame not in ALLOWED_FRAMES:
        raise ValueError(f"unknown reference frame {frame!r}; choose one of {ALLOWED_FRAMES}")

    path = love_data_path(model)
    fname, header, columns, citation = LOVE_MODELS[model]
    hl, kl, ll = read_love_numbers(
        str(path), LMAX=max(nmax, 2), HEADER=header, COLUMNS=columns, REFERENCE=frame, FORMAT="tuple"
    )
    k = np.asarray(kl, dtype=float)[: nmax + 1].copy()
    k[0] = 0.0
    if isinstance(degree1, str):
        if degree1 != "blewitt":
            raise ValueError(f"degree1 must be 'blewitt' or a number, got {degree1!r}")
    else:
        k[1] = float(degree1)
    if not np.all(np.isfinite(k)) or np.any(1.0 + k == 0.0):
        raise ValueError(f"Love numbers from {path} are not finite or give 1 + k'_n = 0")
    version = importlib.metadata.version("gravity-toolkit")
    return xr.DataArray(
        k,
        dims=("degree",),
        coords={"degree": np.arange(nmax + 1)},
        name="k_love",
        attrs={
            "long_name": "elastic load Love number k'_n of the gravitational potential",
            "units": "1",
            "source": f"gravity-toolkit {version}, gravity_toolkit/data/{fname}",
            "citation": citation,
            "model": model,
            "frame": frame,
            "degree1": "Blewitt (2003) isomorphism" if isinstance(degree1, str) else f"k'_1 set to {degree1}",
        },
    )


def as_love_array(love, nmax: int) -> np.ndarray:
    """k'_n for n = 0..nmax as a float array from a DataArray, array or ``None`` (all zero).

    ``None`` means no elastic correction (:math:`\\kappa_n = 1`), e.g. for a potential that
    already is the load's own potential.
    """
    if love is None:
        return np.zeros(nmax + 1)
    k = np.asarray(getattr(love, "values", love), dtype=float).ravel()
    if k.size < nmax + 1:
        raise ValueError(f"Love numbers given to degree {k.size - 1}, need degree {nmax}")
    k = k[: nmax + 1]
    if np.any(1.0 + k == 0.0):
        raise ValueError("1 + k'_n = 0 for some degree (CM frame?); kappa_n would be infinite")
    return k
