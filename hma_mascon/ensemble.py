"""Ensembles of solutions on Dask, and their sensitivity table (issue 14): ``hma-mascon ensemble``.

A *member* is one call of :func:`hma_mascon.pipeline.run_solution` with one choice of settings;
an ensemble is the Cartesian product of the values given to some rows of the parameter table
(:data:`hma_mascon.params.PARAMETERS`, plus ``preset``), every other value fixed
(``--preset``, ``-p name=value``, the ``--flags``)::

    hma-mascon ensemble --data-dir DIR --out ens.nc --vary source=csr,itsg --vary altitude_km=350,450

Every value is checked against the table before anything is computed (a typo names the parameter).
The members run as one Dask computation (``client.submit`` per member, a tqdm bar over
``as_completed``) on a :class:`distributed.LocalCluster` sized for this machine (:func:`cluster_plan`)
or on an existing cluster (``--scheduler ADDRESS``: dask-jobqueue, ``dask scheduler``/``dask worker``;
the data directory must be a path every worker sees), with the BLAS threads of each member pinned
(threadpoolctl) so that workers x threads x BLAS threads do not exceed the cores.

**Memory per member** (peak RSS of the worker process, recorded per member as ``member_peak_rss``):
~5 GB (:data:`MEMBER_MEMORY`) for the default preset on the whole box (its serial solve peaks at
4.7 GB); 0.41 GB for the 7 x 14-cell problem of ``tests/test_ensemble.py`` (0.24 GB of it imports).

The members gather into one Dataset with a ``member`` dimension (:func:`stack_members`): a
variable identical in every member keeps its dimensions, one that differs gains ``member``; the
varying settings are coordinates ``member_<name>``, the global attributes that differ are kept per
member as JSON (``member_attributes``). Members whose grids differ but share a lattice (e.g. the
``default`` preset's 2 deg buffer ring and the ``paper`` preset without one) are placed on the union
grid (NaN outside a member's own cells, masks ``member_in_lat``/``member_in_lon``; likewise for
``time`` when the months differ, e.g. CSR and ITSG); members on different lattices (a different
``mascon_step_deg`` or a box off the half-degree lattice) are refused before computing.
:func:`select_member` gives a member back as the solution Dataset it was, bit for bit.
The file is netCDF (:func:`hma_mascon.output.write_solution`: atomic, locked, ``_FillValue`` -99999)
or, for an output path ending in ``.zarr``, a Zarr store (:func:`write_ensemble`).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import resource
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import xarray as xr
from dask.utils import format_bytes, parse_bytes
from distributed import Client, LocalCluster, as_completed
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from .geometry import mascon_grid
from .output import write_solution, write_zarr
from .params import PARAMETERS, PRESETS, ParameterError, add_arguments, coerce, overrides_from_args, resolve
from .pipeline import run_solution
from .reproduction import prepare, regional_trend_table
from .safeio import AtomicWriteError, check_writable, exclusive_lock
from .synthetic import ensure_synthetic_data_dir

__all__ = ["MEMBER_MEMORY", "Member", "members", "parse_vary", "cluster_plan", "ClusterPlan", "run_member",
           "run_ensemble", "stack_members", "select_member", "write_ensemble", "sensitivity_table", "register_cli"]

#: Memory to plan per member [bytes]: the default preset's whole-box solve peaks at 4.7 GB RSS.
MEMBER_MEMORY = parse_bytes("5GB")

#: Parameters that set the mascon grid (members differing in them may not share a grid).
GRID_PARAMETERS = ("preset", "box", "mascon_step_deg", "mascon_buffer_deg")

# ---------------------------------------------------------------------------------------------- members
@dataclass(frozen=True)
class Member:
    """One member: its preset, the overrides it runs with (validated, typed) and what varies."""

    preset: str
    overrides: dict
    varying: dict  # {name: value} of the varied settings (``preset`` included when varied)


def _text(value) -> str:
    if isinstance(value, tuple):
        return " ".join(f"{v:g}" for v in value)
    return "none" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def parse_vary(items) -> dict:
    """``["name=v1,v2", ...]`` (the ``--vary`` options) -> ``{name: [v1, v2]}`` (strings).

    Values are separated by commas, or by ``;`` when a value itself holds commas
    (``box=65,105,26,47;80,90,28,36``). Raises :class:`ParameterError` naming the item.
    """
    out = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ParameterError(f"--vary {item!r}: expected name=value1,value2,...")
        values = [v.strip() for v in text.split(";" if ";" in text else ",")]
        if not text.strip() or any(v == "" for v in values):
            raise ParameterError(f"--vary {item!r}: empty value for {key!r}")
        if key in out:
            raise ParameterError(f"--vary: parameter {key!r} is given twice")
        out[key] = values
    return out


def members(vary: dict, fixed: dict | None = None, preset: str = "default") -> list[Member]:
    """The members of an ensemble: the Cartesian product of ``vary`` over ``preset`` and ``fixed``.

    Parameters
    ----------
    vary : mapping
        ``{name: [values]}``, any row of the parameter table or ``"preset"``; values as typed.
    fixed : mapping, optional
        ``{name: value}`` shared by every member (overriding the preset).
    preset : str
        The preset of every member when ``preset`` does not vary.

    Raises
    ------
    ParameterError
        An unknown name or preset, a value the table refuses, a name both varied and fixed, a
        duplicated value, or an inconsistent member (``period_start`` after ``period_end``): the
        message names the parameter.
    """
    fixed = dict(fixed or {})
    if not vary:
        raise ParameterError("an ensemble needs at least one --vary name=value1,value2")
    typed = {}
    for name, values in vary.items():
        if name != "preset" and name not in PARAMETERS:
            raise ParameterError(f"--vary: unknown parameter {name!r}; parameters: preset, {', '.join(PARAMETERS)}")
        if name in fixed:
            raise ParameterError(f"parameter {name!r} is both varied and fixed")
        values = [values] if isinstance(values, str) or not isinstance(values, (list, tuple)) else list(values)
        if name == "preset":
            bad = [v for v in values if v not in PRESETS]
            if bad:
                raise ParameterError(f"--vary: unknown preset {bad[0]!r}; presets: {', '.join(PRESETS)}")
            out = list(values)
        else:
            out = [coerce(name, v) for v in values]
        if len(set(map(_text, out))) < len(out):
            raise ParameterError(f"--vary: parameter {name!r} has a repeated value: {values}")
        typed[name] = out
    fixed = {k: coerce(k, v) for k, v in fixed.items()}
    result = []
    for combo in itertools.product(*typed.values()):
        varying = dict(zip(typed, combo))
        p = varying.get("preset", preset)
        over = {**fixed, **{k: v for k, v in varying.items() if k != "preset"}}
        try:
            resolve(p, over)  # inconsistent pairs, unknown preset
        except ParameterError as exc:
            raise ParameterError(f"member {_label(varying)}: {exc}") from None
        result.append(Member(p, over, varying))
    return result


def _label(varying) -> str:
    return " ".join(f"{k}={_text(v)}" for k, v in varying.items())


def _member_grids(mems: list[Member]) -> None:
    """Refuse members whose mascon grids lie on different lattices (before any computation)."""
    axes = []
    for m in mems:
        s = resolve(m.preset, m.overrides)
        g = mascon_grid(s["box"], s["mascon_step_deg"], s["mascon_buffer_deg"], extent=s["buffer_extent"])
        axes.append((s["mascon_step_deg"], g.lat_axis, g.lon_axis))
    steps = {a[0] for a in axes}
    ok = len(steps) == 1
    for k in (1, 2):
        union = np.unique(np.concatenate([a[k] for a in axes]))
        ok = ok and (union.size < 2 or np.allclose(np.diff(union), next(iter(steps))))
    if not ok:
        names = [n for n in GRID_PARAMETERS if n in mems[0].varying] or list(mems[0].varying)
        raise ParameterError(f"--vary {', '.join(names)}: the members' mascon grids lie on different lattices "
                             "(cell size or box off the common lattice), so they cannot share a member "
                             "dimension; run one ensemble per grid")


# ---------------------------------------------------------------------------------------------- Dask
@dataclass(frozen=True)
class ClusterPlan:
    """Workers, threads, BLAS threads and memory limit of a :class:`distributed.LocalCluster`."""

    n_workers: int
    threads_per_worker: int
    blas_threads: int
    memory_limit: int  # bytes per worker


def cluster_plan(n_members: int, member_memory=MEMBER_MEMORY, *, n_workers=None, threads_per_worker=None,
                 memory_limit=None, cpus=None, memory=None) -> ClusterPlan:
    """Size a local cluster: one thread per worker (a member holds the GIL in its xarray parts and
    its BLAS calls are threaded), as many workers as cores, members and ``memory / member_memory``
    allow, and the cores left over as BLAS threads of each member (workers x threads x BLAS <= cores).
    """
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    memory = memory or psutil.virtual_memory().available
    member_memory = parse_bytes(member_memory) if isinstance(member_memory, str) else int(member_memory)
    threads = int(threads_per_worker or 1)
    if n_workers is None:
        by_memory = max(1, int(0.9 * memory // (member_memory * threads)))
        n_workers = max(1, min(cpus // threads or 1, by_memory, n_members))
    memory_limit = parse_bytes(memory_limit) if isinstance(memory_limit, str) else (memory_limit or memory // n_workers)
    return ClusterPlan(int(n_workers), threads, max(1, cpus // (int(n_workers) * threads)), int(memory_limit))


def run_member(data_dir, preset, overrides, glacier=True, blas_threads=None):
    """One member on a worker: :func:`run_solution` with the BLAS threads pinned.

    Returns ``(solution, warnings, seconds, peak RSS of the process in bytes)``.
    """
    t0 = time.perf_counter()
    with threadpool_limits(limits=blas_threads, user_api="blas"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = run_solution(data_dir, preset, glacier=glacier, progress=False, **overrides)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return ds, [f"{w.category.__name__}: {w.message}" for w in caught], time.perf_counter() - t0, peak


def run_ensemble(vary, fixed=None, data_dir=None, preset="default", *, client=None, scheduler=None,
                 n_workers=None, threads_per_worker=None, memory_limit=None, member_memory=MEMBER_MEMORY,
                 blas_threads=None, glacier=True, progress=True) -> xr.Dataset:
    """Run every member of ``members(vary, fixed, preset)`` as one Dask computation and return them
    stacked (:func:`stack_members`, in member order).

    Parameters
    ----------
    vary, fixed, preset
        See :func:`members`.
    data_dir : path-like, optional
        Data directory (a path every worker sees); None: the synthetic world of each member's seed,
        generated here first.
    client : distributed.Client, optional
        Use this client (not closed). Else ``scheduler`` (an address: a client to an existing
        cluster, closed at the end), else a :class:`distributed.LocalCluster` of
        :func:`cluster_plan` (``n_workers``, ``threads_per_worker``, ``memory_limit``,
        ``member_memory``), closed at the end.
    blas_threads : int, optional
        BLAS threads per member; default: the plan's on a local cluster, 1 on another cluster.
    glacier : bool
        Members compute the glacier signal (needed by :func:`sensitivity_table`).
    """
    if scheduler is not None and (n_workers or threads_per_worker or memory_limit):
        raise ParameterError("--workers, --threads-per-worker and --memory-limit size a local cluster; "
                             "with --scheduler the cluster is sized where it was started")
    mems = members(vary, fixed, preset)
    _member_grids(mems)
    if data_dir is not None:
        data_dir = str(Path(data_dir).resolve())
    seeds = [int(resolve(m.preset, m.overrides)["seed"]) for m in mems]
    dirs = [data_dir if data_dir is not None else str(ensure_synthetic_data_dir(seed)) for seed in seeds]
    close = []
    if client is None and scheduler is not None:
        client = Client(scheduler, set_as_default=False)  # leave the dask config of the caller alone
        close.append(client)
        blas_threads = blas_threads or 1
    elif client is None:
        plan = cluster_plan(len(mems), member_memory, n_workers=n_workers, threads_per_worker=threads_per_worker,
                            memory_limit=memory_limit)
        cluster = LocalCluster(n_workers=plan.n_workers, threads_per_worker=plan.threads_per_worker,
                               memory_limit=plan.memory_limit, processes=True, dashboard_address=None)
        client = Client(cluster, set_as_default=False)
        close += [client, cluster]
        blas_threads = blas_threads or plan.blas_threads
    try:
        futures = {client.submit(run_member, dirs[i], m.preset, m.overrides, glacier, blas_threads,
                                 pure=False, key=f"hma-mascon-member-{i}-{os.getpid()}-{time.time_ns()}"): i
                   for i, m in enumerate(mems)}
        results = [None] * len(mems)
        done = as_completed(futures, loop=client.loop)  # not the default client: ours is not set as default
        for fut in tqdm(done, total=len(futures), desc="ensemble members", disable=not progress):
            i = futures[fut]
            try:
                results[i] = fut.result()
            except Exception as exc:
                for other in futures:
                    other.cancel()
                raise RuntimeError(f"ensemble member {i} ({_label(mems[i].varying)}) failed: {exc}") from exc
            for text in results[i][1]:
                warnings.warn(f"member {i} ({_label(mems[i].varying)}): {text}", UserWarning, stacklevel=2)
    finally:
        for obj in close:
            obj.close()
    ens = stack_members([r[0] for r in results], mems)
    ens["member_seconds"] = ("member", np.array([r[2] for r in results]), {
        "units": "s", "long_name": "wall time of the member's solve on its worker"})
    ens["member_peak_rss"] = ("member", np.array([r[3] / 1e6 for r in results]), {
        "units": "MB", "long_name": "peak resident memory of the worker process after the member (imports included)"})
    shared = {} if "preset" in mems[0].varying else {"preset": mems[0].preset}
    ens.attrs["ensemble_fixed"] = json.dumps({**shared, **{k: _text(mems[0].overrides[k]) for k in (fixed or {})}})
    return ens


# ---------------------------------------------------------------------------------------------- stacking
def _null(a: np.ndarray) -> np.ndarray:
    return np.asarray(pd.isnull(a), bool) if a.dtype.kind in "OUSfcmM" else np.zeros(a.shape, bool)


def _same(a: np.ndarray, b: np.ndarray, where: np.ndarray) -> bool:
    """Bit-equal values (NaN where NaN, sign of zero) at ``where``."""
    a, b = a[where], b[where]
    na, nb = _null(a), _null(b)
    if not np.array_equal(na, nb):
        return False
    a, b = a[~na], b[~nb]
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        return bool(np.array_equal(a, b) and np.array_equal(np.signbit(a), np.signbit(b)))
    return bool(np.array_equal(a, b))


def _coordinate(values: list):
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return np.asarray(values)
    return np.asarray([_text(v) for v in values])


def stack_members(solutions: list[xr.Dataset], mems: list[Member]) -> xr.Dataset:
    """One Dataset with a ``member`` dimension from member solutions (see the module docstring)."""
    sols = [s.swap_dims(region="region_name") if "region_name" in s.coords and "region" in s.dims else s
            for s in solutions]
    n = len(sols)
    dims = [d for d in ("time", "lat", "lon", "region_name") if any(d in s.dims for s in sols)]
    union, masks = {}, {}
    for d in dims:
        axes = [s.indexes[d] if d in s.dims else pd.Index([]) for s in sols]
        if all(ax.equals(axes[0]) for ax in axes):
            union[d] = axes[0]
            continue
        union[d] = pd.Index(np.unique(np.concatenate([np.asarray(ax) for ax in axes])), name=d)
        masks[d] = np.stack([union[d].isin(ax) for ax in axes])
    aligned = [s.reindex({d: union[d] for d in masks if d in s.dims}) for s in sols]
    out = xr.Dataset(coords={d: union[d] for d in dims})
    upcast, missing = {}, [[] for _ in sols]
    for name in dict.fromkeys(v for s in aligned for v in s.variables if v not in s.dims):
        holders = [k for k in range(n) if name in aligned[k].variables]
        first = aligned[holders[0]][name]
        original = sols[holders[0]][name].dtype
        defined = []
        for k in range(n):
            ok = np.full(first.shape, k in holders)
            for axis, d in enumerate(first.dims):
                if d in masks:
                    ok = ok & masks[d][k].reshape([-1 if j == axis else 1 for j in range(first.ndim)])
            defined.append(ok)
        values = {k: np.asarray(aligned[k][name].values) for k in holders}
        h0 = holders[0]
        if len(holders) == n and all(_same(values[h0], values[k], defined[h0] & defined[k]) for k in holders):
            data = values[h0].copy()  # the same in every member: no member dimension
            for j, k in enumerate(holders[1:], 1):  # what no earlier member defines comes from the first that does
                take = defined[k] & ~np.any([defined[i] for i in holders[:j]], axis=0)
                if take.any():
                    data = data.astype(np.result_type(data, values[k]))
                    data[take] = values[k][take]
            vdims = first.dims
        else:
            if len(holders) < n:
                kind = values[h0].dtype.kind
                fill = {"f": np.nan, "c": np.nan, "m": np.timedelta64("NaT"), "M": np.datetime64("NaT")}.get(
                    kind, "" if kind in "OUS" else np.nan)
                blank = np.full(first.shape, fill, dtype=values[h0].dtype if kind in "fcmM" else
                                (object if kind in "OUS" else np.float64))
                for k in set(range(n)) - set(holders):
                    values[k], missing[k] = blank, missing[k] + [name]
            data = np.stack([values[k] for k in range(n)])
            vdims = ("member",) + first.dims
        if data.dtype == object:  # strings; "" where the join left a gap (netCDF has no null string)
            data = np.where(_null(data), "", data).astype(str)
        if original.kind in "iub" and data.dtype.kind == "f":
            if np.isnan(data).any():
                upcast[name] = str(original)
            else:
                data = data.astype(original)
        if name in sols[h0].coords:
            out = out.assign_coords({name: (vdims, data, first.attrs)})
        else:
            out[name] = (vdims, data, first.attrs)
    for d, m in masks.items():
        dim = "region" if d == "region_name" else d
        out[f"member_in_{dim}"] = (("member", d), m.astype("i1"), {
            "units": "1", "long_name": f"1 where the {dim} value belongs to the member's own solution"})
    if "region_name" in out.dims:
        out = out.swap_dims(region_name="region")
        out = out.assign_coords(region_name=("region", np.asarray(out["region_name"].values).astype(str),
                                             out["region_name"].attrs))
    if "time" in out.coords:
        out["time"].encoding = dict(solutions[0]["time"].encoding)
    # attributes: the shared ones stay global, the others per member (JSON)
    keys = list(dict.fromkeys(k for s in solutions for k in s.attrs))
    common = {k: solutions[0].attrs[k] for k in keys if all(k in s.attrs for s in solutions)
              and all(_attr_equal(s.attrs[k], solutions[0].attrs[k]) for s in solutions)}
    own = [{k: _json(v) for k, v in s.attrs.items() if k not in common} for s in solutions]
    for k, miss in enumerate(missing):
        if miss:
            own[k]["_missing_variables"] = miss
    out["member_attributes"] = ("member", np.array([json.dumps(o) for o in own]), {
        "long_name": "global attributes of the member's solution that differ between members (JSON)"})
    out.attrs = dict(common)
    out.attrs["title"] = f"{common.get('title', 'hma-mascon solution')}: ensemble of {n} members"
    varying = list(mems[0].varying)
    out.attrs["ensemble_varying"] = json.dumps(varying)
    out.attrs["ensemble_upcast"] = json.dumps(upcast)
    out = out.assign_coords(member=("member", np.arange(n), {
        "standard_name": "realization", "long_name": "ensemble member", "units": "1"}))
    for name in varying:
        out = out.assign_coords({f"member_{name}": ("member", _coordinate([m.varying[name] for m in mems]), {
            "long_name": f"value of the parameter {name} in the member"})})
        out[f"member_{name}"].encoding = {"_FillValue": None}
    return out.assign_coords(member_label=("member", np.array([_label(m.varying) for m in mems]),
                                           {"long_name": "the member's varied settings"}))


def _attr_equal(a, b) -> bool:
    return bool(np.array_equal(a, b)) if isinstance(a, np.ndarray) or isinstance(b, np.ndarray) else a == b


def _json(value):
    return value.tolist() if isinstance(value, (np.ndarray, np.generic)) else value


def select_member(ens: xr.Dataset, i: int) -> xr.Dataset:
    """Member ``i`` of an ensemble as the solution Dataset :func:`run_solution` returned (its own
    months and cells, variables, dtypes and global attributes)."""
    own = json.loads(str(ens["member_attributes"].values[i]))
    missing = set(own.pop("_missing_variables", []))
    sol = ens.isel(member=i)
    for dim in ("time", "lat", "lon", "region"):
        if f"member_in_{dim}" in ens:
            sol = sol.isel({dim: np.flatnonzero(ens[f"member_in_{dim}"].values[i])})
    drop = [n for n in sol.variables if n.startswith("member") and n not in ("member",)] + ["member"]
    sol = sol.drop_vars([n for n in drop if n in sol.variables] + [n for n in missing if n in sol.variables])
    for name, dtype in json.loads(ens.attrs.get("ensemble_upcast", "{}")).items():
        if name in sol.variables:
            sol[name] = sol[name].astype(dtype)
    attrs = {k: v for k, v in ens.attrs.items() if not k.startswith("ensemble_")}
    attrs.update(own)
    attrs["title"] = attrs["title"].rsplit(": ensemble of", 1)[0]
    sol.attrs = attrs
    return sol


def write_ensemble(ens: xr.Dataset, path, *, lock_timeout: float = 0.0) -> Path:
    """Write an ensemble: netCDF with the solution writer (atomic, locked, ``_FillValue`` -99999), or
    a Zarr store with one chunk per member when ``path`` ends with ``.zarr``
    (:func:`hma_mascon.output.write_zarr`). :func:`select_member` works on either read back."""
    if Path(path).suffix == ".zarr":
        return write_zarr(ens, path, chunks={"member": 1} if "member" in ens.dims else None,
                          lock_timeout=lock_timeout)
    return write_solution(ens, path, lock_timeout=lock_timeout)


# ---------------------------------------------------------------------------------------------- sensitivity
def sensitivity_table(ens: xr.Dataset, data_dir=None, period=None) -> pd.DataFrame:
    """Glacier trends [Gt/yr] of HMA (with its stated 95 % error) and of each region, per member.

    Each member goes through :func:`hma_mascon.reproduction.prepare` (once per data directory,
    grid and ``nmax``) and :func:`hma_mascon.reproduction.regional_trend_table` over ``period``
    (None: every month of the member). ``HMA`` is the sum of the HiMAP regions lying wholly inside
    the member's grid. Indexed by the varied settings (a MultiIndex when several vary).
    """
    if "glacier_lwe_thickness" not in ens:
        raise ValueError("the ensemble has no glacier signal; run it with the glacier signal (not --no-glacier)")
    rows, contexts = [], {}
    for i in range(ens.sizes["member"]):
        sol = select_member(ens, i)
        dd = str(data_dir if data_dir is not None else sol.attrs["provenance_data_dir"])
        key = (dd, sol.attrs.get("param_nmax"), tuple(sol["lat"].values[[0, -1]]), tuple(sol["lon"].values[[0, -1]]))
        if key not in contexts:
            contexts[key] = prepare(sol, dd)
        tab = regional_trend_table(sol, contexts[key], period=period)
        row = {"HMA": tab.loc["HMA", "trend"], "HMA error95": tab.loc["HMA", "error95"]}
        row.update({r: tab.loc[r, "trend"] for r in tab.index if r != "HMA"})
        rows.append(row)
    varying = json.loads(ens.attrs["ensemble_varying"])
    index = pd.MultiIndex.from_arrays([ens[f"member_{n}"].values for n in varying], names=varying) \
        if len(varying) > 1 else pd.Index(ens[f"member_{varying[0]}"].values, name=varying[0])
    return pd.DataFrame(rows, index=index)


# ---------------------------------------------------------------------------------------------- CLI
def _ensemble(args) -> int:
    try:
        vary = parse_vary(args.vary)
        fixed = overrides_from_args(args)
        if "preset" in vary and args.preset != "default":
            raise ParameterError("preset is both varied (--vary preset=...) and fixed (--preset)")
        mems = members(vary, fixed, args.preset)
        _member_grids(mems)
        for opt, target in (("--out", args.out), ("--sensitivity", args.sensitivity or args.out)):
            try:
                check_writable(target)
            except AtomicWriteError as exc:
                raise ParameterError(f"{opt} {exc}") from None
        if args.sensitivity and args.no_glacier:
            raise ParameterError("--sensitivity needs the glacier signal (drop --no-glacier)")
        member_memory = parse_bytes(args.member_memory)
    except (ParameterError, ValueError) as exc:
        raise SystemExit(f"hma-mascon ensemble: {exc}") from None
    data_dir = args.data_dir or os.environ.get("HMA_MASCON_DATA") or None
    if not args.debug:  # the scheduler's INFO records reach stderr through a root handler an import set up
        logging.getLogger("distributed").setLevel(logging.WARNING)
    t0 = time.perf_counter()
    with exclusive_lock(args.out):
        ens = run_ensemble(vary, fixed, data_dir, args.preset, scheduler=args.scheduler, n_workers=args.workers,
                           threads_per_worker=args.threads_per_worker, memory_limit=args.memory_limit,
                           member_memory=member_memory, blas_threads=args.blas_threads, glacier=not args.no_glacier,
                           progress=not args.quiet)
        path = write_ensemble(ens, args.out)
    peak = float(ens["member_peak_rss"].max()) * 1e6
    print(f"ensemble of {ens.sizes['member']} members ({', '.join(json.loads(ens.attrs['ensemble_varying']))} "
          f"varied) written to {path} in {time.perf_counter() - t0:.0f} s; largest worker peak memory "
          f"{format_bytes(peak)}")
    if args.sensitivity:
        table = sensitivity_table(ens, data_dir)
        table.to_csv(args.sensitivity)
        print(table.round(2).to_string())
    return 0


def register_cli(subparsers) -> None:
    """Add ``hma-mascon ensemble --out FILE.nc --vary name=v1,v2 [...]``."""
    p = subparsers.add_parser(
        "ensemble", help="run a grid of settings as one Dask computation and write one file with a member dimension",
        description="Each --vary name=v1,v2 multiplies the members (Cartesian product); every other value is fixed "
                    "by --preset, -p and the flags. Runs on a LocalCluster sized for this machine, or on an existing "
                    "Dask cluster (--scheduler). Plan ~5 GB per member for the default preset on the whole box.")
    p.add_argument("--data-dir", default=None, help="data directory (default: $HMA_MASCON_DATA, else the synthetic "
                   "world); with --scheduler, a path every worker sees")
    p.add_argument("--out", required=True, help="output file with a member dimension: netCDF, or a Zarr "
                   "store when it ends in .zarr")
    p.add_argument("--vary", action="append", default=[], metavar="NAME=V1,V2",
                   help="a parameter of the table (or preset) and its values, comma-separated (';' when a value "
                        "holds commas, e.g. box); repeatable")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="address of an existing Dask scheduler (tcp://host:8786) instead of a local cluster")
    p.add_argument("--workers", type=int, default=None, help="local cluster: worker processes (default: planned)")
    p.add_argument("--threads-per-worker", type=int, default=None, help="local cluster: threads per worker (1)")
    p.add_argument("--memory-limit", default=None, help="local cluster: memory limit per worker (e.g. 6GB)")
    p.add_argument("--member-memory", default="5GB",
                   help="memory one member needs, for sizing the local cluster (default %(default)s: the default "
                        "preset on the whole box)")
    p.add_argument("--blas-threads", type=int, default=None,
                   help="BLAS threads per member (default: the cores left per worker locally, 1 with --scheduler)")
    p.add_argument("--sensitivity", default=None, metavar="CSV",
                   help="also write the HMA and regional glacier trends per member (sensitivity table)")
    p.add_argument("--no-glacier", action="store_true", help="skip the glacier signal")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    add_arguments(p)
    p.set_defaults(func=_ensemble)
