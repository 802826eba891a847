"""Shared fixtures: small generated files (made once per session) and the real ROOT files."""

from __future__ import annotations

from pathlib import Path

import pytest

from hepwb import data

REAL_ROOT_FILES = sorted(data.REAL_ROOT_DIR.glob("*.root")) if data.REAL_ROOT_DIR.is_dir() else []


def real_root_file(name: str) -> Path:
    path = data.REAL_ROOT_DIR / name
    if not path.exists():
        pytest.skip(f"{path} is absent: the shared real-root files live beside the project in ../shared/data/real-root")
    return path


@pytest.fixture(scope="session")
def small_jets(tmp_path_factory) -> Path:
    """100 jets (20 per class) generated serially with seed 7."""
    from hepwb.generate import generate

    return generate("jets", 100, seed=7, output=tmp_path_factory.mktemp("gen") / "jets-small.root", progress=False)


@pytest.fixture(scope="session")
def small_zmumu(tmp_path_factory) -> Path:
    from hepwb.generate import generate

    return generate("zmumu", 200, seed=7, output=tmp_path_factory.mktemp("gen") / "zmumu-small.root", progress=False)
