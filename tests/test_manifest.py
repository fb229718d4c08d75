"""The dataset manifest: schema, contract names, checksums against the mirror's SHA256SUMS."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest
import yaml

from hma_mascon import datadir

REPO = Path(__file__).resolve().parents[1]
ROOT_MANIFEST = REPO / "data_manifest.yml"
PACKAGE_MANIFEST = REPO / "hma_mascon" / "data" / "data_manifest.yml"

#: Entry names other modules code against (CONTRIBUTING.md / the task brief).
CONTRACT_NAMES = {
    "csr_rl06_gsm", "itsg2018_gfc", "tn13", "tn14", "love_numbers", "gia_ice6g_d", "gia_caron2018",
    "gia_caron_ivins2019", "ddk_reference", "rgi6_glacier_area", "shean2020_mass_balance",
    "hugonnet2021_regional", "brun2017_regional", "zemp2019_regional", "himap_regions", "wgms_insitu",
    "lehmann2022_basin_series", "lehmann2022_basins", "gsfc_mascon_tiles", "tongji_grace2022",
    "glacier_prior_grid", "lake_storage", "hydrology_model", "soil_moisture", "truth", "synthetic_world",
}
#: Paths of the stand-in datasets the synthetic world writes (contract with synthetic/).
STANDIN_PATHS = {
    "glacier_prior_grid": "glaciers/aster_glacier_mass_0.5deg.nc",
    "lake_storage": "lakes/lake_storage_0.5deg.nc",
    "hydrology_model": "hydrology/wghm_tws_0.5deg.nc",
    "soil_moisture": "hydrology/gldas_soil_moisture_0.5deg.nc",
    "truth": "truth/truth.nc",
    "synthetic_world": "hma_synthetic.json",
    "tongji_grace2022": "grace/tongji2022/*.gfc*",
}


def _read_sums(data_dir: Path) -> dict[str, str]:
    return datadir.read_sha256sum_file(data_dir / "SHA256SUMS")


def _matches(rel: str, entry: datadir.DatasetEntry) -> bool:
    return any(fnmatch.fnmatch(rel, p) for p in entry.path)


def test_root_manifest_is_the_real_one_and_package_copy_identical():
    assert ROOT_MANIFEST.read_bytes() == PACKAGE_MANIFEST.read_bytes()
    assert datadir.manifest_path() == ROOT_MANIFEST
    # the package copy loads to the same entries (installed-package fallback)
    assert datadir.load_manifest(PACKAGE_MANIFEST) == datadir.load_manifest(ROOT_MANIFEST)


def test_every_entry_has_every_key_and_names_are_unique():
    raw_text = ROOT_MANIFEST.read_text()
    # YAML silently keeps the last of duplicated keys: count the entry keys in the text itself
    names = re.findall(r"^  ([a-z0-9_]+):\s*(?:#.*)?$", raw_text, flags=re.M)
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    raw = yaml.safe_load(raw_text)["datasets"]
    assert list(raw) == names
    for name, entry in raw.items():
        assert set(entry) == set(datadir.MANIFEST_KEYS), name
    manifest = datadir.load_manifest()
    assert set(manifest) == CONTRACT_NAMES
    for name, entry in manifest.items():
        assert entry.name == name
        assert "§" in entry.role, f"{name}: role must cite METHODS.md §"
        assert entry.citation and entry.licence and entry.source and entry.format, name
        assert entry.required_by, name


def test_standin_paths_and_flags():
    manifest = datadir.load_manifest()
    for name, path in STANDIN_PATHS.items():
        assert manifest[name].path == (path,), name
        assert manifest[name].obtainable_offline is False
        assert manifest[name].sha256 is None
        assert manifest[name].fetch_url is None
    for name in ("glacier_prior_grid", "lake_storage", "hydrology_model", "soil_moisture", "truth"):
        fmt = manifest[name].format
        assert "lwe_thickness(time, lat, lon)" in fmt and "cm" in fmt and "0.5-degree" in fmt, name
    # every offline-obtainable dataset records checksums, so status can verify it
    for name, entry in manifest.items():
        if entry.obtainable_offline:
            assert entry.sha256, name
            assert all(_matches(rel, entry) for rel in entry.sha256), name


def test_large_datasets_use_checksum_files():
    manifest = datadir.load_manifest()
    for name, n in (("csr_rl06_gsm", 231), ("itsg2018_gfc", 214)):
        entry = manifest[name]
        assert entry.sha256_source == f"checksums/{name}.sha256"
        path = REPO / "hma_mascon" / "data" / entry.sha256_source
        assert len(datadir.read_sha256sum_file(path)) == n


def test_fetch_urls_cover_recorded_files():
    manifest = datadir.load_manifest()
    for name, entry in manifest.items():
        if entry.fetch_url is None:
            continue
        urls = entry.urls()
        assert urls and set(urls) <= set(entry.sha256), name
        assert all(u.startswith("https://") for u in urls.values()), name


@pytest.mark.realdata
def test_offline_patterns_match_the_mirror(data_dir):
    manifest = datadir.load_manifest()
    for name, entry in manifest.items():
        files = datadir.dataset_files(name, data_dir, required=False)
        if entry.obtainable_offline:
            rels = {f.relative_to(data_dir).as_posix() for f in files}
            for pattern in entry.path:  # every pattern, not only the union
                assert any(fnmatch.fnmatch(r, pattern) for r in rels), (name, pattern)
            assert rels == set(entry.sha256), name
        else:
            assert files == [], name


@pytest.mark.realdata
def test_mirror_checksums_recorded(data_dir):
    sums = _read_sums(data_dir)
    manifest = datadir.load_manifest()
    owned = 0
    for rel, digest in sums.items():
        owners = [e for e in manifest.values() if _matches(rel, e)]
        assert len(owners) <= 1, (rel, [e.name for e in owners])
        if owners:
            owned += 1
            assert owners[0].sha256.get(rel) == digest, rel
    # and nothing is recorded that the mirror's list does not have
    for entry in manifest.values():
        for rel, digest in (entry.sha256 or {}).items():
            assert sums[rel] == digest, rel
    assert owned == sum(len(e.sha256 or {}) for e in manifest.values())
