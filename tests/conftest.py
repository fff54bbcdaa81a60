"""Shared fixtures. Real components only: SeaweedFS for S3, PostgreSQL, Redis, Chromium."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from repository.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("KHO_SHARED", ROOT.parent / "shared")).resolve()

pytest_plugins = ["tests.fixtures.bags", "tests.fixtures.s3", "tests.fixtures.databases",
                  "tests.fixtures.aips", "tests.fixtures.redis"]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The read-only shared material beside the project (conformance suites, schemas)."""
    if not SHARED.is_dir():
        pytest.fail(f"shared material not found at {SHARED}; set KHO_SHARED")
    return SHARED


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for the embedded default inside a fresh data folder."""
    return load_settings({}, data_dir=tmp_path / "kho-data",
                         storage_config_dir=tmp_path / "storage_config")
