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


def test_fixity_run_on_a_catalogue_at_head_imports_only_what_it_uses(tmp_path):
    # Every command opens the catalogue; knowing it is at head must not import Alembic (the
    # migration scripts), and a check of local storage needs no boto3, no JSON Schema, no
    # password hashing and no mail. The first run creates the catalogue (Alembic, rightly).
    env_dir = {"KHO_DATA_DIR": str(tmp_path / "data"),
               "KHO_STORAGE_CONFIG": str(tmp_path / "storage_config")}
    (tmp_path / "storage_config").mkdir()
    import os
    env = {**os.environ, **env_dir}
    first = subprocess.run([sys.executable, str(KHO), "fixity", "run", "--all"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr[-2000:]
    proc = subprocess.run([sys.executable, "-X", "importtime", str(KHO), "fixity", "run", "--all"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "0 AIPs checked" in proc.stdout
    names = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in proc.stderr.splitlines()
             if line.startswith("import time:") and line.count("|") == 2}
    assert "sqlalchemy" in names  # the catalogue was opened
    assert sorted(names & {"alembic", "mako", "boto3", "botocore", "jsonschema", "werkzeug",
                           "smtplib", "flask", "celery", "kombu"}) == []
