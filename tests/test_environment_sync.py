"""environment.yml (conda-forge users) must list the same dependencies as pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(spec: str) -> str:
    return re.split(r"[<>=!~ ;\[]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_deps() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    specs = list(data["project"]["dependencies"])
    for extra in data["project"].get("optional-dependencies", {}).values():
        specs += extra
    return {_name(s): s.replace(" ", "") for s in specs}


def _environment_deps() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    specs = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            specs += dep.get("pip", [])
        else:
            specs.append(dep)
    return {_name(s): s.replace(" ", "") for s in specs if _name(s) not in {"python", "pip"}}


def test_same_package_names():
    py, env = _pyproject_deps(), _environment_deps()
    assert set(py) == set(env), (
        f"only in pyproject.toml: {sorted(set(py) - set(env))}; "
        f"only in environment.yml: {sorted(set(env) - set(py))}"
    )


def test_same_version_constraints():
    py, env = _pyproject_deps(), _environment_deps()
    differ = {k: (py[k], env[k]) for k in py if k in env and py[k] != env[k]}
    assert not differ, f"version constraints differ: {differ}"


def test_python_version_matches():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
