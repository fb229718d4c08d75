"""Generate, write and cache the synthetic High Mountain Asia (the embedded default data).

:func:`generate_world` builds every component as a sum of (fixed spatial pattern x time series) terms
(glaciers, lakes, hydrology, GIA), analyses each pattern once on a global 0.25 deg Driscoll-Healy grid
(quadrature exact to degree 359, truncated at 96 -- truncation acts as in reality), combines the
coefficients linearly in time, converts them to Stokes coefficients with the load Love numbers, adds
GRACE-like correlated noise (:mod:`.noise`) and a static Kaula-rule background, and degrades C20/C30.
:func:`write_world` writes a data directory laid out like the real mirror, with the *shared* writers
(:func:`hma_mascon.io_grace.write_gsm`, :func:`hma_mascon.low_degree.write_tn13`/``write_tn14``), so the
real readers read it. :func:`ensure_synthetic_data_dir` caches it under ``$HMA_MASCON_CACHE`` or
``~/.cache/hma-mascon`` keyed by a hash of (seed, parameters, generator version).
Reproducibility: one :class:`numpy.random.SeedSequence` spawns one Generator per component.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time as _time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from .. import __version__
from ..constants import A_GRACE, GM_GRACE
from ..datadir import SYNTHETIC_MARKER, file_sha256, load_manifest
from ..io_grace import write_gsm
from ..low_degree import write_tn13, write_tn14
from ..safeio import AtomicWriteError, atomic_path, deferred_interrupt, exclusive_lock
from ..stokes import make_stokes_dataset
from . import parameters as P
from ._sh import analyse_many, ewh_to_stokes_factors
from .gia import gia_models, gia_rate, write_gia_file
from .glaciers import glacier_terms
from .grids import blocks_to_dh, cell_area_m2, dh_axes, product_axes
from .hydrology import hydrology_terms
from .insitu import station_balances, station_links
from .lakes import lake_terms
from .months import grace_months, month_sequence
from .noise import coefficient_noise, degree_sigma, month_factors, real_noise_era_factor, real_noise_factor
from .priors import aster_series, noisy
from .regions import region_polygons

CM = 100.0
_STREAMS = ["area", "glacier_time", "lakes", "hydrology", "noise", "priors", "insitu", "static", "low_degree"]


@dataclass
class World:
    """Everything the synthetic world consists of (in memory)."""

    seed: int
    months: pd.DataFrame
    truth: xr.Dataset
    stokes: xr.Dataset
    stokes_clean: np.ndarray
    gia_stokes: dict
    products: dict
    glacier_area: xr.DataArray
    regions: object
    insitu: dict
    links: pd.DataFrame
    tn13: pd.DataFrame
    tn14: pd.DataFrame
    range_specs: list
    lakes: list
    timing: dict = field(default_factory=dict)
    scenario: str | None = None
    #: True: at the real noise level (the default); "low": at generator 1.1.0's level, a third of it;
    #: False: without coefficient noise (:func:`generate_world`)
    noise: bool | str = True
    #: "independent" (the default: each range its own interannual series) or "regional" (:func:`generate_world`)
    interannual: str = "independent"


def _cf_grid(name, data_cm, time, lat, lon, long_name, extra=None) -> xr.Dataset:
    ds = xr.Dataset(
        {"lwe_thickness": (("time", "lat", "lon"), np.asarray(data_cm, "float32"),
                           {"units": "cm", "long_name": "liquid water equivalent thickness",
                            "standard_name": "lwe_thickness"})},
        coords={"time": ("time", pd.DatetimeIndex(time).values), "lat": ("lat", lat, {"units": "degrees_north",
                "standard_name": "latitude"}), "lon": ("lon", lon, {"units": "degrees_east",
                "standard_name": "longitude"})},
        attrs={"Conventions": "CF-1.8", "title": long_name, "source": "hma-mascon synthetic world",
               "synthetic": "yes", "name": name, **(extra or {})})
    return ds


def generate_world(seed: int = P.DEFAULT_SEED, months=None, noise: bool | str = True, scenario: str | None = None,
                   interannual: str = "independent") -> World:
    """Generate the synthetic world in memory.

    Parameters
    ----------
    seed : int
        Seed of the :class:`numpy.random.SeedSequence`; the same seed gives bit-identical output.
    months : None, int or sequence of "YYYY-MM"
        Reduced mode: a subset of the GRACE months (see :func:`.months.grace_months`). Random streams do
        not depend on the subset except the per-month noise.
    noise : True, "low" or False
        Coefficient noise in the GSM fields (truth and priors are unaffected). True (the default since
        generator 1.2.0): at the lower bound of the real CSR noise, (CSR - ITSG)/sqrt 2 (chapter 9):
        :func:`.noise.degree_sigma` times :func:`.noise.real_noise_factor` per degree and
        :func:`.noise.real_noise_era_factor` per month, the stated sigmas with it. ``"low"``: generator
        1.1.0's level, 0.29 (GRACE) and 0.52 (GRACE-FO) of that bound over degrees 30-96, the closed
        loop easier than reality; the same draws otherwise, so the two worlds differ by the noise level
        alone. False: no noise, while the files
        still carry the noisy world's stated sigmas, month factors included: a solve sees the same
        stated noise (only the monthly noise factor that a solve estimates from the residuals,
        :func:`hma_mascon.noise_model.monthly_noise_factor`, can differ), so the difference between
        the two worlds' solutions is what the noise realisation does, and what is left in the
        noise-free one is the resolution of the data and the regularization (chapter 9).
    scenario : str, optional
        A wrong-prior scenario of :data:`parameters.SCENARIOS`: one range's true trend departs from
        the one its glacier prior carries (the departure is one more glacier term, ``sub="scenario"``,
        left out of the prior and written to ``truth.nc`` as ``scenario``). Every random stream is
        the same as without it, so the two worlds differ by that term alone.
    interannual : {"independent", "regional"}
        The glaciers' interannual weather (:func:`.glaciers.glacier_terms`). ``"independent"`` (the
        default world): every range has its own series. ``"regional"``: the same draws mixed so that
        ranges correlate as exp(-d / :data:`parameters.INTERANNUAL_CORRELATION_KM`), as the balances of
        neighbouring real ranges do; the priors carry no interannual glacier signal in either world.
    """
    if scenario is not None and scenario not in P.SCENARIOS:
        raise ValueError(f"scenario {scenario!r}: unknown; choose one of {sorted(P.SCENARIOS)}")
    if not isinstance(noise, (bool, np.bool_)) and noise != "low":
        raise ValueError(f"noise={noise!r}: expected True (the real level), 'low' or False")
    t_start = _time.perf_counter()
    rngs = dict(zip(_STREAMS, (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(len(_STREAMS)))))
    mdf = grace_months(months)
    t = mdf["decimal_year"].to_numpy()
    nt = t.size
    lat, lon = product_axes()
    area_m2 = cell_area_m2(lat)[:, None] * np.ones(lon.size)
    LA, LO = np.meshgrid(lat, lon, indexing="ij")

    area_km2, idx, gterms, specs = glacier_terms(rngs["area"], rngs["glacier_time"], interannual)
    lterms, lake_cells = lake_terms(rngs["lakes"])
    hterms = hydrology_terms(rngs["hydrology"])
    block_terms = gterms + lterms
    if scenario is not None:  # the departure of the truth from the prior: one more glacier term
        sc = P.SCENARIOS[scenario]
        spec = next(s for s in specs if s["name"] == sc["range"])
        block_terms.append(dict(name=f"scenario {scenario}", component="glacier", sub="scenario",
                                pattern_gt=spec["tshare"],
                                func=lambda tt, d=float(sc["trend"]) - float(spec["trend"]): d * (np.asarray(tt, float) - P.T_REF)))
    for term in block_terms:
        term["pattern"] = term["pattern_gt"] * 1e12 / (P.RHO_WATER * area_m2)  # EWH m per unit
    for term in hterms:
        term["pattern"] = term["pattern_fn"](LA, LO)

    # --- SH analysis of every pattern (batched) --------------------------------------------------
    glat, glon = dh_axes()
    lo0, lo1, la0, la1, w = P.HYDRO_DOMAIN
    rows = (glat > la0 - 1) & (glat < la1 + 1)
    GLA, GLO = np.meshgrid(glat[rows], glon, indexing="ij")
    coef = []
    chunk = 8
    for k in range(0, len(block_terms), chunk):
        coef.append(analyse_many(blocks_to_dh(np.stack([b["pattern"] for b in block_terms[k:k + chunk]]), lat, lon)))
    smooth_fns = [h["pattern_fn"] for h in hterms] + [
        (lambda la, lo, m=m: gia_rate(la, lo, m)) for m, _n in gia_models()]
    for k in range(0, len(smooth_fns), chunk):
        g = np.zeros((len(smooth_fns[k:k + chunk]), glat.size, glon.size))
        for j, fn in enumerate(smooth_fns[k:k + chunk]):
            g[j, rows] = fn(GLA, GLO)
        coef.append(analyse_many(g))
    coef = np.concatenate(coef)
    nb, nh = len(block_terms), len(hterms)
    terms = block_terms + hterms
    t_an = _time.perf_counter()

    series = np.stack([term["func"](t) for term in terms])  # (K, time)
    ewh_coef = np.einsum("kt,kabc->tabc", series, coef[: nb + nh])
    gia_ewh = coef[nb + nh:]  # (3, 2, N+1, N+1) EWH rates
    ewh_coef = ewh_coef + (t - P.T_REF)[:, None, None, None] * gia_ewh[0]
    fac = ewh_to_stokes_factors(P.NMAX)[None, None, :, None]
    clean = ewh_coef * fac
    gia_stokes = {m: gia_ewh[i] * fac[0] for i, (m, _n) in enumerate(gia_models())}

    # --- truth on the product grid -----------------------------------------------------------------
    def component(kind, tt, sub=None, exclude=()):
        sel = [k for k, term in enumerate(terms) if term["component"] == kind and (sub is None or term.get("sub") in sub)
               and term.get("sub") not in exclude]
        if not sel:
            return np.zeros((len(tt),) + LA.shape)
        s = np.stack([terms[k]["func"](tt) for k in sel])
        return np.einsum("kt,kij->tij", s, np.stack([terms[k]["pattern"] for k in sel]))

    glacier = component("glacier", t)
    lake = component("lake", t)
    hydro = component("hydrology", t)
    gia_map = gia_rate(LA, LO)
    gia = (t - P.T_REF)[:, None, None] * gia_map[None]
    tb = P.TRUTH_BOX
    ilat = (lat > tb[2]) & (lat < tb[3])
    ilon = (lon > tb[0]) & (lon < tb[1])
    sub = np.ix_(np.ones(nt, bool), ilat, ilon)
    truth = _cf_grid("truth", (glacier + lake + hydro + gia)[sub] * CM, mdf["time"], lat[ilat], lon[ilon],
                     "Synthetic truth: total mass field of the synthetic GRACE coefficients",
                     {"seed": int(seed), "comment": "sum of glacier, lake, hydrology and gia (apparent EWH of "
                      "GIA); degree-0 not in the GSM files; coefficients truncated at degree 96"})
    for name, arr, ln in [("glacier", glacier, "glacier mass"), ("lake", lake, "lake storage"),
                          ("hydrology", hydro, "soil moisture, snow, groundwater"),
                          ("gia", gia, "GIA apparent EWH relative to T_REF")]:
        truth[name] = (("time", "lat", "lon"), (arr[sub] * CM).astype("float32"),
                       {"units": "cm", "long_name": f"{ln} (liquid water equivalent thickness)"})
    if scenario is not None:
        truth["scenario"] = (("time", "lat", "lon"), (component("glacier", t, {"scenario"})[sub] * CM).astype("float32"),
                             {"units": "cm", "long_name": f"departure of the truth from the priors: {P.SCENARIOS[scenario]['doc']}"})
        truth.attrs["scenario"] = scenario
    truth["gia_rate"] = (("lat", "lon"), (gia_map[np.ix_(ilat, ilon)] * CM).astype("float32"),
                         {"units": "cm/yr", "long_name": "GIA apparent EWH rate (ICE-6G_D stand-in)"})
    truth["glacier_area"] = (("lat", "lon"), area_km2[np.ix_(ilat, ilon)].astype("float32"),
                             {"units": "km2", "long_name": "glacier area in the cell"})
    truth["cell_area"] = (("lat", "lon"), area_m2[np.ix_(ilat, ilon)],
                          {"units": "m2", "long_name": "ellipsoidal (GRS80) cell area used for Gt sums"})
    truth.coords["month"] = ("time", mdf["month"].to_numpy().astype(str))
    truth.coords["decimal_year"] = ("time", t)

    # --- noise, static field, low degrees ----------------------------------------------------------
    N = P.NMAX
    level = 1.0 if noise == "low" else real_noise_factor(N)[:, None]  # per degree
    sig = degree_sigma(N) * level
    mf = month_factors(mdf["month"], rngs["noise"])  # drawn first: the stated sigmas do not depend on ``noise``
    if noise != "low":
        mf = mf * real_noise_era_factor(mdf["month"])
    err = coefficient_noise(nt, rngs["noise"], N) * level * mf[:, None, None, None] if noise else np.zeros_like(clean)
    rs = rngs["static"]
    nn = np.arange(N + 1)[:, None] * np.ones(N + 1)
    static = rs.standard_normal((2, N + 1, N + 1)) * P.KAULA / np.maximum(nn, 1) ** 2
    static[:, np.tril(np.ones((N + 1, N + 1))) == 0] = 0.0
    static[1, :, 0] = 0.0
    static[:, :2] = 0.0
    static[0, 0, 0], static[0, 2, 0], static[0, 3, 0] = 1.0, P.C20_MEAN, P.C30_MEAN
    C = static[None] + clean + err
    rl = rngs["low_degree"]
    gfo = (mdf["mission"] == "GRACE-FO").to_numpy()
    C[:, 0, 2, 0] += rl.normal(0, P.C20_GSM_NOISE, nt)
    C[:, 0, 3, 0] += rl.normal(0, 1, nt) * np.where(gfo, P.C30_GSM_NOISE_GRACEFO, P.C30_GSM_NOISE_GRACE)
    C[:, :, 1, :] = 0.0
    C[:, :, 0, :] = 0.0
    C[:, 0, 0, 0] = 1.0
    sigma = sig[None] * mf[:, None, None]

    t0 = pd.to_datetime(mdf["start"]).values
    t1 = pd.to_datetime(mdf["end"]).values + np.timedelta64(1, "D")
    upper = np.tril(np.ones((N + 1, N + 1), bool))
    Cc = np.where(upper, C[:, 0], np.nan)
    Ss = np.where(upper, C[:, 1], np.nan)
    sC = np.where(upper, sigma, np.nan)
    sS = np.where(upper, sigma, np.nan)
    sS[:, :, 0] = 0.0

    stokes = make_stokes_dataset(Cc, Ss, sC, sS, time_start=t0, time_end=t1, month=mdf["month"].to_numpy(),
                                 mission=mdf["mission"].to_numpy(), GM=GM_GRACE, radius=A_GRACE,
                                 tide_system="zero_tide", product="GSM-2 synthetic (hma-mascon)",
                                 history="hma-mascon synthetic world")
    tn13 = pd.DataFrame({"time_start": t0, "time_end": t1,
                         "C10": clean[:, 0, 1, 0] + rl.normal(0, P.DEG1_SIGMA, nt),
                         "C11": clean[:, 0, 1, 1] + rl.normal(0, P.DEG1_SIGMA, nt),
                         "S11": clean[:, 1, 1, 1] + rl.normal(0, P.DEG1_SIGMA, nt),
                         "sigma_C10": P.DEG1_SIGMA, "sigma_C11": P.DEG1_SIGMA, "sigma_S11": P.DEG1_SIGMA})
    c30 = P.C30_MEAN + clean[:, 0, 3, 0] + rl.normal(0, P.C30_SLR_SIGMA, nt)
    no_c30 = pd.to_datetime(t0) < pd.Timestamp("2012-08-01")  # as TN-14: no C30 before LARES
    tn14 = pd.DataFrame({"time_start": t0, "time_end": t1,
                         "C20": P.C20_MEAN + clean[:, 0, 2, 0] + rl.normal(0, P.C20_SLR_SIGMA, nt),
                         "sigma_C20": P.C20_SLR_SIGMA, "C30": np.where(no_c30, np.nan, c30),
                         "sigma_C30": np.where(no_c30, np.nan, P.C30_SLR_SIGMA)})

    # --- priors --------------------------------------------------------------------------------------
    rp = rngs["priors"]
    products = {}
    gl_terms_fn = lambda tt: component("glacier", tt, exclude=("scenario",))  # noqa: E731 (the prior's glaciers)
    cm_aster = month_sequence(*P.ASTER_PERIOD)
    aster = aster_series(gl_terms_fn, cm_aster["decimal_year"].to_numpy(), idx, rp)
    products["glaciers/aster_glacier_mass_0.5deg.nc"] = _cf_grid(
        "glacier_prior_grid", aster * CM, cm_aster["time"], lat, lon,
        "ASTER-like glacier mass change (synthetic: truth windows + errors, no seasonal cycle)")
    cm_l = month_sequence("2002-01", P.LAKE_PRIOR_END)
    lk = component("lake", cm_l["decimal_year"].to_numpy())
    lake_mask = np.zeros(LA.shape)
    for term in lterms:
        lake_mask = np.maximum(lake_mask, term["pattern_gt"] != 0)
    products["lakes/lake_storage_0.5deg.nc"] = _cf_grid(
        "lake_storage", noisy(lk, P.LAKE_PRIOR_NOISE_CM / CM, rp, lake_mask) * CM, cm_l["time"], lat, lon,
        "Lake storage change (synthetic: truth + noise, to 2017)")
    cm_h = month_sequence("2002-01", P.HYDRO_MODEL_END)
    th = cm_h["decimal_year"].to_numpy()
    hm = P.HYDRO_MODEL_AMPLITUDE_FACTOR * component("hydrology", th - P.HYDRO_MODEL_PHASE_ERROR,
                                                     {"soil", "snow", "soil_iav"})
    products["hydrology/wghm_tws_0.5deg.nc"] = _cf_grid(
        "hydrology_model", noisy(hm, P.HYDRO_MODEL_NOISE_CM / CM, rp) * CM, cm_h["time"], lat, lon,
        "WGHM-like TWS without glaciers and lakes (synthetic: no groundwater loss, phase and amplitude error)")
    cm_s = month_sequence(*P.SOIL_MODEL_PERIOD)
    sm = P.SOIL_MODEL_AMPLITUDE_FACTOR * component("hydrology", cm_s["decimal_year"].to_numpy(), {"soil", "soil_iav"})
    products["hydrology/gldas_soil_moisture_0.5deg.nc"] = _cf_grid(
        "soil_moisture", noisy(sm, P.SOIL_MODEL_NOISE_CM / CM, rp) * CM, cm_s["time"], lat, lon,
        "GLDAS-like soil moisture, all layers (synthetic)")

    # --- glacier area (global 0.5 deg, structure of the mirror's RGI file) -------------------------
    gy = np.arange(-89.75, 90, 0.5, dtype="float32")
    gx = np.arange(-179.75, 180, 0.5, dtype="float32")
    glob = np.zeros((gy.size, gx.size), "float32")
    iy = np.searchsorted(gy, lat.astype("float32"))
    ix = np.searchsorted(gx, lon.astype("float32"))
    glob[np.ix_(iy, ix)] = area_km2
    garea = xr.DataArray(glob, dims=("y", "x"), coords={
        "y": ("y", gy, {"unit": "degrees_north", "units": "degrees_north", "long_name": "latitude"}),
        "x": ("x", gx, {"unit": "degrees_east", "units": "degrees_east", "long_name": "longitude"})},
        name="Area", attrs={"units": "km^2", "long_name": "Gridded Glacier Areas"})

    # --- in situ ------------------------------------------------------------------------------------
    def specific(la, lo, tt):
        i, j = int(np.argmin(np.abs(lat - la))), int(np.argmin(np.abs(lon - lo)))
        g = component("glacier", np.asarray(tt))[:, i, j] * area_m2[i, j]  # m3 water
        return g / max(area_km2[i, j] * 1e6, 1e-9)

    insitu = station_balances(specific, rngs["insitu"])
    world = World(seed=int(seed), months=mdf, truth=truth, stokes=stokes, stokes_clean=clean, gia_stokes=gia_stokes,
                  products=products, glacier_area=garea, regions=region_polygons(), insitu=insitu,
                  links=station_links(), tn13=tn13, tn14=tn14, range_specs=specs, lakes=lake_cells, scenario=scenario,
                  noise=noise if noise == "low" else bool(noise), interannual=interannual)
    world.timing = {"analysis_s": t_an - t_start, "generate_s": _time.perf_counter() - t_start}
    return world


def metadata(seed: int, scenario: str | None = None, noise: bool | str = True,
             interannual: str = "independent") -> dict:
    """Content of ``hma_synthetic.json`` without the generation time (what the cache key hashes); a
    noise-free world says ``"noise": false`` and one at generator 1.1.0's noise level ``"noise": "low"``
    (the default, at the real noise level, has no ``"noise"``)."""

    meta = {"synthetic": True, "seed": int(seed), "generator_version": P.GENERATOR_VERSION,
            "package_version": __version__, "parameters": P.parameters_dict()}
    if scenario is not None:
        meta["scenario"] = scenario
    if noise == "low":
        meta["noise"] = "low"
    elif not noise:
        meta["noise"] = False
    if interannual != "independent":
        meta["interannual"] = interannual
    return meta


def cache_key(seed: int, scenario: str | None = None, noise: bool | str = True,
              interannual: str = "independent") -> str:
    """Hash of (seed, parameters, generator version, scenario, noise, interannual mode) -- the package
    version is not part of it."""
    meta = metadata(seed, scenario, noise, interannual)
    meta.pop("package_version")
    return hashlib.sha256(json.dumps(meta, sort_keys=True, default=str).encode()).hexdigest()[:16]


#: marker file of a synthetic data directory (the one the package tests with ``datadir.is_synthetic``)
MARKER = SYNTHETIC_MARKER


class WorldTargetError(AtomicWriteError):
    """``write_world`` refuses its target (non-empty and not a synthetic world, or real data)."""


def _real_data_evidence(out: Path) -> str | None:
    """Why ``out`` holds real data, or None: a file whose SHA-256 is a manifest checksum, or a
    ``grace/`` directory without the synthetic marker."""
    for entry in load_manifest().values():
        for rel, digest in (entry.sha256 or {}).items():
            f = out / rel
            if f.is_file() and file_sha256(f) == digest:
                return f"{f} is the real file of dataset {entry.name!r} (its SHA-256 is in the manifest)"
    if (out / "grace").is_dir() and not (out / MARKER).is_file():
        return f"{out / 'grace'} exists and {out / MARKER} (the synthetic marker) does not"
    return None


def check_world_target(out, force: bool = False) -> Path:
    """Check that the synthetic world may be written to ``out`` (before generating it).

    Allowed: a path that does not exist, an empty directory, or a synthetic world (it holds the
    marker ``hma_synthetic.json`` and no real file); any other non-empty directory only with
    ``force=True``. Never a directory holding real data (a file whose SHA-256 is one of the
    manifest's checksums, or a ``grace/`` directory without the marker), even with ``force``.

    Raises
    ------
    WorldTargetError
        naming ``out`` and the reason.
    """
    out = Path(out)
    if not out.exists():
        return out
    if not out.is_dir():
        raise WorldTargetError(out, "exists and is not a directory")
    if not any(out.iterdir()):
        return out
    real = _real_data_evidence(out)
    if real is not None:
        raise WorldTargetError(out, f"holds real data ({real}); the synthetic world is never written over "
                                    "real data, not even with --force: choose an empty or new directory")
    if not (out / MARKER).is_file() and not force:
        raise WorldTargetError(out, f"is not empty and is not a synthetic world (no {MARKER}); choose an "
                                    "empty or new directory, or pass --force (force=True) to replace it")
    return out


def write_world(world: World, out, *, force: bool = False) -> Path:
    """Write the world as a data directory laid out like the real mirror; returns ``out``.

    The directory is written to a temporary directory beside ``out`` and renamed into place when
    complete (an interrupt, held back until the file being written is complete, leaves the
    previous ``out`` as it was), under an exclusive lock on
    ``out``. ``out`` is checked first by :func:`check_world_target` (``force`` replaces a
    non-empty directory that is not a synthetic world; real data are never replaced).
    """
    out = Path(out)
    with exclusive_lock(out):
        check_world_target(out, force=force)
        with atomic_path(out, directory=True) as tmp, deferred_interrupt(f"the write of {out}"):
            _write_world_files(world, tmp)
    return out


def _write_world_files(world: World, out: Path) -> Path:
    """Write every file of the world into the existing directory ``out``."""

    t0 = _time.perf_counter()
    gdir = out / "grace" / "csr_rl06"
    gdir.mkdir(parents=True, exist_ok=True)
    for k, row in world.months.iterrows():
        name = f"GSM-2_{row.start_doy}-{row.end_doy}_{row.tag}_UTCSR_BB01_{row.release}.gz"
        write_gsm(gdir / name, world.stokes, index=k, title="GRACE Geopotential Coefficients (hma-mascon synthetic)")
    (out / "low_degree").mkdir(exist_ok=True)
    write_tn13(out / "low_degree" / "TN-13_GEOC_CSR_RL0602.txt", world.tn13,
               header="GRACE Technical Note 13 (hma-mascon synthetic: truth degree 1 + noise)")
    write_tn14(out / "low_degree" / "TN-14_C30_C20_GSFC_SLR.txt", world.tn14,
               title="SLR C20 and C30 (hma-mascon synthetic: truth + SLR-like noise)")
    (out / "gia").mkdir(exist_ok=True)
    for m, n in gia_models():
        write_gia_file(out / "gia" / f"GIA.{m}.txt", world.gia_stokes[m], n, m)
    for rel, ds in world.products.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        ds.to_netcdf(out / rel, encoding={"lwe_thickness": {"zlib": True, "complevel": 1},
                                          "time": {"units": "days since 2000-01-01", "calendar": "standard", "dtype": "float64"}})
    (out / "glaciers").mkdir(exist_ok=True)
    world.glacier_area.to_dataset().assign_attrs(pyproj_srs="epsg:4326", synthetic="yes").to_netcdf(
        out / "glaciers" / "rgi6_glacier_area_0.5deg.nc")
    (out / "truth").mkdir(exist_ok=True)
    world.truth.to_netcdf(out / "truth" / "truth.nc", encoding={
        v: {"zlib": True, "complevel": 1} for v in ["lwe_thickness", "glacier", "lake", "hydrology", "gia", "scenario"]
        if v in world.truth} | {
        "time": {"units": "days since 2000-01-01", "calendar": "standard", "dtype": "float64"}})
    (out / "regions").mkdir(exist_ok=True)
    gp = out / "regions" / "boundary_mountain_regions_hma_v3_clean.gpkg"
    if gp.exists():
        gp.unlink()
    world.regions.to_file(gp, driver="GPKG")
    wd = out / "insitu" / "wgms"
    wd.mkdir(parents=True, exist_ok=True)
    for wid, df in world.insitu.items():
        df.to_csv(wd / f"mbdata_WGMS-{wid:05d}.csv", index=False)
    world.links.to_csv(wd / "rgi_wgms_links_20220112_HMA4.csv", index=False)
    meta = metadata(world.seed, world.scenario, world.noise, world.interannual)
    meta["months"] = world.months["month"].tolist()
    meta["generated"] = pd.Timestamp.now("UTC").isoformat()
    meta["timing_s"] = dict(world.timing, write_s=_time.perf_counter() - t0)
    (out / "README.md").write_text("# Synthetic hma-mascon data directory\n\nGenerated by `hma-mascon synthetic` "
                                   f"(seed {world.seed}). Every file is synthetic; `truth/truth.nc` holds the known "
                                   "answer. Region polygons approximate the HiMAP regions.\n")
    (out / MARKER).write_text(json.dumps(meta, indent=1, default=str))
    return out


def default_cache_root() -> Path:
    """``$HMA_MASCON_CACHE`` or ``~/.cache/hma-mascon``."""
    return Path(os.environ.get("HMA_MASCON_CACHE") or Path.home() / ".cache" / "hma-mascon")


def ensure_synthetic_data_dir(seed: int = P.DEFAULT_SEED, cache_dir=None, scenario: str | None = None,
                              noise: bool | str = True, interannual: str = "independent") -> Path:
    """Directory of the synthetic world for ``seed`` (and wrong-prior ``scenario``, and without
    coefficient noise if ``noise`` is false, at generator 1.1.0's low noise level if ``"low"``, with
    regionally shared interannual weather if ``interannual="regional"``, see :func:`generate_world`),
    generated if missing (never stale: the name carries the hash of seed, parameters, generator
    version, scenario, noise and interannual mode; written to a temporary directory and renamed
    atomically)."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_root()
    name = (f"synthetic-{int(seed)}" + (f"-{scenario}" if scenario else "")
            + ("-low-noise" if noise == "low" else "" if noise else "-noise-free")
            + ("" if interannual == "independent" else f"-{interannual}-weather"))
    target = root / f"{name}-{cache_key(seed, scenario, noise, interannual)}"
    if (target / "hma_synthetic.json").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-synthetic-", dir=root))
    try:
        world = generate_world(seed, scenario=scenario, noise=noise, interannual=interannual)
        with deferred_interrupt(f"the write of {tmp}"):  # netCDF/HDF5 deadlock when interrupted mid-write
            _write_world_files(world, tmp)
        try:
            tmp.rename(target)
        except OSError:  # another process won the race
            if not (target / "hma_synthetic.json").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def load_truth(data_dir) -> xr.Dataset:
    """The truth Dataset (cm EWH) of a synthetic data directory."""
    path = Path(data_dir) / "truth" / "truth.nc"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no synthetic truth here (is {data_dir} a synthetic data directory?)")
    with xr.open_dataset(path) as ds:
        return ds.load()
