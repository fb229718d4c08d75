"""Consistency check in the spherical-harmonic domain (METHODS.md §10.7; paper Sec. III-A, Figs. 2-3).

Before the priors may constrain the inversion, the paper checks that they and GRACE describe the
same signal once both are seen through the same eyes: DDK5 and a 200 km Gaussian applied to the
GRACE Stokes coefficients and to the prior grids alike [AMB-18], then trend, annual amplitude and
RMS maps side by side.

Heavy lifting: :mod:`hma_mascon.synthesis` (exact-cell-integral SH analysis
:func:`~hma_mascon.synthesis.analyse_ewh_grid`, EWH <-> Stokes conversion, synthesis
:func:`~hma_mascon.synthesis.stokes_to_ewh_grid`), :mod:`hma_mascon.filters` (DDK block
matrices from l3py's normals, Jekeli Gaussian) and :mod:`hma_mascon.timeseries` (six-term
least squares). Written by hand here is only the order of operations, which is the point of the
check:

    grid h_j  --analysis (exact cell integrals, zeros outside the box = embedding in a global grid)-->
    EWH coefficients sigma_nm  --x 3 rho_w (1+k'_n) / (a rho_e (2n+1))-->  Stokes C_nm, S_nm
    --DDK5 (mixes degrees within each order)-->  --W_n Gaussian-->  --synthesis-->  filtered grid.

DDK acts on Stokes coefficients: its blocks were built from the GRACE normal equations in the
Stokes domain and mix degrees, so applying it to EWH coefficients (which differ from Stokes by a
degree-dependent factor) would be a different filter. :func:`prior_stokes` therefore always
returns Stokes coefficients and :func:`filtered_ewh` is the only place where filters act.

References
----------
Kusche, J. et al. (2009), J. Geodesy 83, 903-913 (DDK).
Jekeli, C. (1981), OSU Report 327 (Gaussian).
Wahr, J., Molenaar, M., Bryan, F. (1998), JGR 103, 30205 (EWH <-> Stokes).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .filters import apply_ddk, gaussian_weights
from .inputs import prepare, read_grace
from .params import resolve
from .stokes import anomalies
from .synthesis import analyse_ewh_grid, ewh_coefficients_to_stokes, stokes_to_ewh_grid
from .timeseries import decimal_year, fit_harmonic_trend

__all__ = [
    "filter_stokes",
    "prior_stokes",
    "filtered_ewh",
    "filtered_ewh_of_grid",
    "prior_total_series",
    "trend_annual_maps",
    "rms_maps",
    "consistency_maps",
    "load_grace_anomalies",
    "grace_filtered_ewh",
    "book_fields",
]

_LATLON_ATTRS = {
    "lat": {"units": "degrees_north", "long_name": "latitude", "standard_name": "latitude"},
    "lon": {"units": "degrees_east", "long_name": "longitude", "standard_name": "longitude"},
}


def filter_stokes(C, S, ddk_level: int | None = 5, gaussian_km: float | None = 200.0):
    """DDK then Gaussian on Stokes coefficients ``(..., N+1, N+1)`` (METHODS.md §10.7.1, 10.7.4-5).

    .. math:: c^f_{m,t} = W_{m,t}\\,c_{m,t}\\ (\\text{DDK, per order and type}),\\qquad
        c^{ff}_{nm} = W^G_n\\,c^f_{nm}\\ (\\text{Gaussian, } W^G_0 = 1)

    Parameters
    ----------
    C, S : array_like
        Stokes coefficients (never EWH coefficients: DDK mixes degrees).
    ddk_level : int or None
        DDK filter number (5 in the paper); None skips it.
    gaussian_km : float or None
        Half-weight radius of the Gaussian [km]; None skips it.

    Returns
    -------
    (Cf, Sf) : numpy.ndarray
    """

    C = np.nan_to_num(np.asarray(C, float))
    S = np.nan_to_num(np.asarray(S, float))
    if C.shape != S.shape or C.shape[-1] != C.shape[-2]:
        raise ValueError(f"C and S must have the same shape (..., N+1, N+1), got {C.shape} and {S.shape}")
    if ddk_level is not None:
        C, S = apply_ddk(C, S, level=int(ddk_level))
    if gaussian_km is not None:
        w = gaussian_weights(C.shape[-1] - 1, float(gaussian_km))[:, None]
        C, S = C * w, S * w
    return np.asarray(C), np.asarray(S)


def prior_stokes(ewh, love, radius: float, nmax: int = 96, GM=None):
    """Stokes coefficients of a gridded EWH field (METHODS.md §10.7.2).

    The grid is analysed with exact cell integrals; cells outside it count as zero, which is the
    same as embedding it in a global 0.5° grid of zeros. Then

    .. math:: \\Delta C_{nm} = \\frac{3\\rho_w (1+k'_n)}{a\\rho_e(2n+1)}\\,\\Delta\\hat\\sigma_{nm}.

    Parameters
    ----------
    ewh : xarray.DataArray ``(..., lat, lon)``
        EWH [m] on an evenly spaced grid (cell centres); NaN counts as 0.
    love : DataArray or array_like
        Load Love numbers k'_n.
    radius : float
        Reference radius a of the coefficients [m].
    nmax : int
    GM : float, optional

    Returns
    -------
    (C, S) : numpy.ndarray ``(..., nmax+1, nmax+1)``; degree 0 set to 0 (AMB-19: ΔC00 = 0).
    """

    if not isinstance(ewh, xr.DataArray) or "lat" not in ewh.dims or "lon" not in ewh.dims:
        raise ValueError("prior_stokes: ewh must be a DataArray with dims (..., lat, lon)")
    hC, hS = analyse_ewh_grid(ewh, nmax=int(nmax))
    C, S = ewh_coefficients_to_stokes(hC, hS, love, radius, GM=GM)
    C = np.array(C)
    C[..., 0, 0] = 0.0
    return C, np.array(S)


def _as_dataarray(h, lat, lon, time=None, long_name="equivalent water height", units="m"):
    dims = (("time",) if time is not None else ()) + ("lat", "lon")
    coords = {"lat": ("lat", np.asarray(lat, float), _LATLON_ATTRS["lat"]),
              "lon": ("lon", np.asarray(lon, float), _LATLON_ATTRS["lon"])}
    if time is not None:
        coords["time"] = ("time", np.asarray(time))
    return xr.DataArray(np.asarray(h, float), dims=dims, coords=coords,
                        attrs={"units": units, "long_name": long_name})


def filtered_ewh(C, S, lat, lon, love, radius: float, ddk_level: int | None = 5, gaussian_km: float | None = 200.0,
                 GM=None, time=None, long_name="filtered equivalent water height"):
    """Filtered EWH grid from Stokes coefficients (METHODS.md §10.7.1).

    .. math:: h(\\varphi,\\lambda) = \\frac{a\\rho_e}{3\\rho_w}\\sum_n \\frac{2n+1}{1+k'_n}W_n
        \\sum_m \\bar P_{nm}(\\sin\\varphi)\\,[C^f_{nm}\\cos m\\lambda + S^f_{nm}\\sin m\\lambda]

    with C^f, S^f the DDK-filtered coefficients and W_n the Gaussian weights (:func:`filter_stokes`).
    Degree 0 is not synthesised.

    Returns
    -------
    xarray.DataArray ``([time,] lat, lon)`` [m]
    """

    Cf, Sf = filter_stokes(C, S, ddk_level, gaussian_km)
    h = stokes_to_ewh_grid(Cf, Sf, lat=lat, lon=lon, love=love, radius=radius, GM=GM, nmin=1)
    if time is None and h.ndim == 3:
        raise ValueError("filtered_ewh: several fields given but no time")
    return _as_dataarray(h, lat, lon, time, long_name=long_name)


def filtered_ewh_of_grid(ewh, love, radius: float, nmax: int = 96, ddk_level: int | None = 5,
                         gaussian_km: float | None = 200.0, lat=None, lon=None, GM=None,
                         long_name="filtered equivalent water height"):
    """A gridded field seen through the GRACE filters: grid -> Stokes -> DDK -> Gaussian -> grid.

    Parameters
    ----------
    ewh : xarray.DataArray ``([time,] lat, lon)`` [m]
    love, radius, nmax, GM : see :func:`prior_stokes`.
    ddk_level, gaussian_km : see :func:`filter_stokes`.
    lat, lon : array_like, optional
        Output grid (default that of ``ewh``).

    Returns
    -------
    xarray.DataArray ``([time,] lat, lon)`` [m]
    """
    C, S = prior_stokes(ewh, love, radius, nmax, GM)
    lat = ewh["lat"].values if lat is None else lat
    lon = ewh["lon"].values if lon is None else lon
    time = ewh["time"].values if "time" in ewh.dims else None
    return filtered_ewh(C, S, lat, lon, love, radius, ddk_level, gaussian_km, GM=GM, time=time, long_name=long_name)


def prior_total_series(priors: dict, grid, time) -> xr.DataArray:
    """Sum of the prior components as a (time, lat, lon) EWH series [m] on the mascon grid.

    Components with a series are interpolated (nearest month) to ``time``; rate-only products
    (e.g. the Shean 2020 glacier rates standing in for Hugonnet 2021) contribute
    rate·(t - t̄), with t̄ the mean of ``time``, so their trend is kept and their seasonal signal
    is zero; absent components contribute zero.

    Parameters
    ----------
    priors : dict
        :func:`hma_mascon.priors.load_priors` output.
    grid : MasconGrid
    time : array_like of datetime64

    Returns
    -------
    xarray.DataArray (time, lat, lon) [m], attribute ``components`` listing what entered.
    """

    time = np.asarray(time).astype("datetime64[ns]")
    t = decimal_year(time)
    total = np.zeros((time.size, grid.size))
    used = []
    for name, comp in priors.items():
        if not hasattr(comp, "rms"):
            continue
        if comp.series is not None:
            s = comp.series.reindex(time=time, method="nearest", tolerance=np.timedelta64(20, "D"))
            vals = np.asarray(s.values, float).reshape(time.size, -1)
            if vals.shape[1] != grid.size:
                vals = grid.from_dataarray(s).reshape(time.size, -1)
            total += np.nan_to_num(vals)
            used.append(f"{name} (series)")
        elif comp.rate is not None:
            total += np.outer(t - t.mean(), np.nan_to_num(np.asarray(comp.rate, float)))
            used.append(f"{name} (rate only)")
    da = grid.to_dataarray(total, name="prior_ewh", units="m", long_name="sum of the prior components",
                           extra_dims=("time",))
    da = da.assign_coords(time=("time", time))
    da.attrs["components"] = ", ".join(used) if used else "none"
    return da


def trend_annual_maps(da: xr.DataArray, t=None, scale: float = 100.0, units: str = "cm") -> xr.Dataset:
    """Trend and annual amplitude of every cell from the six-term fit (METHODS.md §10.7.3, §10.2).

    .. math:: x = \\beta_0 + \\beta_1(t - t_0) + a_1\\cos 2\\pi t + b_1 \\sin 2\\pi t
        + a_2\\cos 4\\pi t + b_2\\sin 4\\pi t,\\qquad A_1 = \\sqrt{a_1^2 + b_1^2}

    Parameters
    ----------
    da : xarray.DataArray (time, lat, lon)
    t : array_like, optional
        Decimal years (default from ``da.time``).
    scale, units : float, str
        Output scaling (default m -> cm).

    Returns
    -------
    xarray.Dataset with ``trend`` [units/yr] and ``annual_amplitude`` [units].
    """

    t = decimal_year(da["time"].values) if t is None else np.asarray(t, float)
    values = np.asarray(da.transpose("time", "lat", "lon").values, float)
    fit = fit_harmonic_trend(t, values)
    name = da.attrs.get("long_name", da.name or "field")
    coords = {"lat": da["lat"], "lon": da["lon"]}
    return xr.Dataset({
        "trend": (("lat", "lon"), scale * fit.trend,
                  {"units": f"{units} yr-1", "long_name": f"linear trend of {name}"}),
        "annual_amplitude": (("lat", "lon"), scale * fit.annual_amplitude,
                             {"units": units, "long_name": f"annual amplitude of {name}"}),
    }, coords=coords)


def rms_maps(fields: dict, scale: float = 100.0, units: str = "cm") -> xr.Dataset:
    """Both RMS readings of METHODS.md §10.7.3 [AMB-16].

    * signal RMS of each field about its own temporal mean, :math:`\\sqrt{\\overline{(x-\\bar x)^2}}`;
    * RMS of the differences between each pair of fields, :math:`\\sqrt{\\overline{(x_a-\\bar x_a-x_b+\\bar x_b)^2}}`
      (means removed, so a constant offset between two solutions does not count).

    Months where any field is NaN are left out of every map, so all maps see the same months.

    Parameters
    ----------
    fields : dict of str to xarray.DataArray (time, lat, lon)
        On the same grid and months.

    Returns
    -------
    xarray.Dataset with ``rms_<name>`` and ``rms_diff_<a>_minus_<b>``.
    """
    names = list(fields)
    if not names:
        raise ValueError("rms_maps: no fields given")
    ref = fields[names[0]]
    arrays = {}
    for k in names:
        da = fields[k].transpose("time", "lat", "lon")
        if da.shape != ref.transpose("time", "lat", "lon").shape:
            raise ValueError(f"rms_maps: field {k!r} has shape {da.shape}, expected {ref.shape}")
        arrays[k] = np.asarray(da.values, float)
    ok = np.all([np.all(np.isfinite(a), axis=(1, 2)) for a in arrays.values()], axis=0)
    if ok.sum() < 2:
        raise ValueError("rms_maps: fewer than two months where every field is finite")
    anom = {k: a[ok] - a[ok].mean(axis=0) for k, a in arrays.items()}
    out = xr.Dataset(coords={"lat": ref["lat"], "lon": ref["lon"]})
    for k, a in anom.items():
        out[f"rms_{k}"] = (("lat", "lon"), scale * np.sqrt(np.mean(a**2, axis=0)),
                           {"units": units, "long_name": f"RMS of {k} about its mean"})
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            d = anom[a] - anom[b]
            out[f"rms_diff_{a}_minus_{b}"] = (("lat", "lon"), scale * np.sqrt(np.mean(d**2, axis=0)),
                                              {"units": units, "long_name": f"RMS of {a} minus {b}"})
    out.attrs["months_used"] = int(ok.sum())
    return out


def consistency_maps(fields: dict, t=None) -> xr.Dataset:
    """Trend, annual amplitude and RMS maps of several filtered fields, stacked on a ``source`` axis.

    Parameters
    ----------
    fields : dict of str to xarray.DataArray (time, lat, lon) [m]
        E.g. ``{"GRACE": ..., "prior": ..., "mascon": ...}``, all filtered the same way.

    Returns
    -------
    xarray.Dataset
        ``trend`` and ``annual_amplitude`` (source, lat, lon) in cm/yr and cm, the RMS maps of
        :func:`rms_maps`, and the pattern correlation of the trend maps with the first field
        (``trend_correlation``, over cells where both are finite).
    """
    names = list(fields)
    maps = [trend_annual_maps(fields[k], t) for k in names]
    out = xr.concat(maps, dim=xr.DataArray(names, dims="source", name="source"))
    rms = rms_maps(fields)
    out = out.merge(rms)
    out.attrs["months_used"] = rms.attrs["months_used"]
    a = out["trend"].sel(source=names[0]).values.ravel()
    corr = []
    for k in names:
        b = out["trend"].sel(source=k).values.ravel()
        ok = np.isfinite(a) & np.isfinite(b)
        corr.append(float(np.corrcoef(a[ok], b[ok])[0, 1]) if ok.sum() > 2 else np.nan)
    out["trend_correlation"] = ("source", np.array(corr),
                                {"units": "1", "long_name": f"pattern correlation of the trend map with {names[0]}"})
    return out


def load_grace_anomalies(data_dir, start="2002-04", end="2023-08", nmax=96, source="csr"):
    """Level-2 anomalies as the solve prepares them (:func:`hma_mascon.inputs.read_grace`: months
    without a TN-13/TN-14 record dropped, low degrees replaced with C30 from 2016-08; then the mean
    of the months used removed). No coefficient-sigma calibration: the consistency check needs none."""
    settings = resolve("default", {"period_start": start, "period_end": end, "nmax": nmax, "source": source})
    return anomalies(read_grace(data_dir, settings), None, None)


def grace_filtered_ewh(ds, lat, lon, love, ddk_level=5, gaussian_km=200.0):
    """Filtered EWH (time, lat, lon) [m] of a coefficient container (DDK, Gaussian, synthesis)."""
    return filtered_ewh(ds["C"].values, ds["S"].values, lat, lon, love, float(ds.attrs["radius"]), ddk_level,
                        gaussian_km, GM=float(ds.attrs["GM"]), time=ds["time"].values,
                        long_name="GRACE EWH, DDK5 + Gaussian 200 km")


def book_fields(data_dir, grid, love, start="2002-04", end="2023-08", nmax=96, solution=None, truth=None,
                prior_end="2017-12", stokes=None, priors=None):
    """The filtered fields compared in chapter 2, on the mascon grid and common months [m].

    ``GRACE`` (Level-2 anomalies), ``prior`` (sum of the prior components,
    :func:`prior_total_series`), and when given ``mascon`` (the solution's ``lwe_thickness``, cm)
    and ``truth`` (the synthetic truth Dataset), all through DDK5 + Gaussian 200 km. The months are
    the GRACE months up to ``prior_end`` (the priors cover 2002-2017, §7) where every field exists;
    all fields are re-referenced to their mean over those months. ``stokes`` and ``priors`` (as from
    :func:`hma_mascon.book.chapters.book_inputs`) are read from ``data_dir`` when not given.
    """

    ds = load_grace_anomalies(data_dir, start, end, nmax) if stokes is None else stokes
    months = np.asarray(ds["month"].values).astype(str)
    keep = months <= prior_end
    if keep.sum() >= 12:
        ds = ds.isel(time=np.flatnonzero(keep))
    time = ds["time"].values
    lat, lon = grid.lat_axis, grid.lon_axis
    radius, GM = float(ds.attrs["radius"]), float(ds.attrs["GM"])
    if priors is None:
        settings = resolve("default", {"period_start": start, "period_end": end, "nmax": nmax})
        priors = prepare(data_dir, settings, grid=grid, gia=False, soil_moisture=False).priors
    fields = {"GRACE": grace_filtered_ewh(ds, lat, lon, love)}
    prior = prior_total_series(priors, grid, time)
    fields["prior"] = filtered_ewh_of_grid(prior, love, radius, nmax, GM=GM, long_name="prior sum, filtered")
    if solution is not None:
        x = (solution["lwe_thickness"] / 100.0).reindex(time=time, method="nearest",
                                                        tolerance=np.timedelta64(20, "D"))
        x.attrs = {"units": "m"}
        # the whole solution (its buffer ring holds mass too) analysed, synthesised at the box's cells
        mascon = filtered_ewh_of_grid(x.fillna(0.0), love, radius, nmax, GM=GM, lat=lat, lon=lon,
                                      long_name="mascon solution, filtered")
        fields["mascon"] = mascon.where(np.isfinite(x.values).all(axis=(1, 2))[:, None, None]
                                                  * np.ones((1, lat.size, lon.size), bool))
    if truth is not None:
        tr = (truth["lwe_thickness"] / 100.0).reindex(time=time, method="nearest", tolerance=np.timedelta64(20, "D"))
        tr = tr.sel(lat=xr.DataArray(lat, dims="lat"), lon=xr.DataArray(lon, dims="lon"), method="nearest")
        tr.attrs = {"units": "m"}
        fields["truth"] = filtered_ewh_of_grid(tr.fillna(0.0), love, radius, nmax, GM=GM,
                                               long_name="synthetic truth, filtered")
    ok = np.ones(time.size, bool)
    for f in fields.values():
        ok &= np.isfinite(f.values).all(axis=(1, 2))
    out = {}
    for k, f in fields.items():
        f = f.isel(time=np.flatnonzero(ok))
        out[k] = f - f.mean("time")
        out[k].attrs = {"units": "m", "long_name": f.attrs.get("long_name", k)}
    return out
