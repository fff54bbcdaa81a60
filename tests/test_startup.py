"""`kho` starts without importing what the command does not use.

A user pays for every import on every call (`kho --help`, `kho validate` of each bag in a
loop): boto3, pyvips, Celery, Flask and SQLAlchemy belong to the commands that use them.
The test reads Python's own import log (`-X importtime`) of a real `kho` process, so it
checks behaviour, not the clock.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.bags import make_bag

KHO = Path(sys.executable).parent / "kho"
HEAVY = ("boto3", "botocore", "s3transfer", "pyvips", "PIL", "celery", "kombu", "redis",
         "flask", "werkzeug", "jinja2", "sqlalchemy", "alembic", "psycopg", "jsonschema",
         "ocfl", "iiif_prezi3", "pygfried", "gunicorn", "bagit")


def imported(*args: str, cwd: Path | None = None) -> tuple[set[str], subprocess.CompletedProcess]:
    """Top-level packages imported by one `kho ARGS` process, and the process."""
    proc = subprocess.run([sys.executable, "-X", "importtime", str(KHO), *args],
                          capture_output=True, text=True, cwd=cwd, timeout=120)
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1].strip()
            names.add(name.split(".")[0])
    assert names, proc.stderr[-2000:]
    return names, proc


def test_kho_help_imports_no_heavy_library():
    names, proc = imported("--help")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "validate" in proc.stdout and "fixity" in proc.stdout
    assert sorted(names & set(HEAVY)) == []


def test_validating_a_small_bag_imports_no_heavy_library(tmp_path):
    root = make_bag(tmp_path / "bag", {"data/Trang 1 – Hà Nội.txt": b"trang mot"})
    names, proc = imported("validate", str(root))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(names & set(HEAVY)) == []


@pytest.mark.parametrize("command", ["validate", "describe", "ingest", "fixity", "worker",
                                     "serve", "storage", "catalog", "user", "audit"])
def test_each_command_help_imports_no_heavy_library(command):
    names, proc = imported(command, "--help")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(names & set(HEAVY)) == []
