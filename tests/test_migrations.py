"""The Alembic migrations build exactly the schema the models describe, on both backends."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event, inspect

from repository.catalog import head_revisions, open_catalog
from repository.catalog.database import load_all_models
from repository.search.schema import include_object

ROOT = Path(__file__).resolve().parents[1]


def test_migrated_database_matches_the_models_exactly(catalog):
    metadata = load_all_models()
    with catalog.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "compare_type": True, "include_object": include_object})
        diff = compare_metadata(context, metadata)
    assert diff == [], f"models and migrations disagree; write a migration for: {diff}"
    assert catalog.current_revision() in head_revisions()


def test_upgrade_at_head_costs_one_query(catalog):
    statements: list[str] = []
    event.listen(catalog.engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *a: statements.append(statement))
    catalog.upgrade()
    assert len(statements) <= 2, statements  # reading alembic_version, nothing migrated


def test_upgrade_creates_the_sqlite_folder_and_enables_foreign_keys_and_wal(tmp_path):
    db = open_catalog(f"sqlite:///{tmp_path / 'new' / 'folder' / 'kho.sqlite3'}")
    db.upgrade()
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert "premis_events" in inspect(db.engine).get_table_names()
    db.dispose()


def test_downgrade_to_base_and_upgrade_again(catalog):
    from alembic import command
    from repository.catalog import alembic_config
    config = alembic_config(catalog.url)
    with catalog.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert set(inspect(catalog.engine).get_table_names()) <= {"alembic_version"}
    assert catalog.current_revision() is None
    catalog.upgrade()
    assert "aips" in inspect(catalog.engine).get_table_names()


def _alembic(args: list[str], cwd: Path, url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KHO_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "alembic", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_alembic_upgrade_head_from_the_repository_root_uses_KHO_DATABASE_URL(tmp_path):
    url = f"sqlite:///{tmp_path / 'db' / 'kho.sqlite3'}"
    done = _alembic(["upgrade", "head"], ROOT, url)
    assert done.returncode == 0, done.stderr
    assert open_catalog(url).current_revision() in head_revisions()


def test_alembic_works_from_another_folder_with_the_config_named(tmp_path):
    url = f"sqlite:///{tmp_path / 'kho.sqlite3'}"
    done = _alembic(["-c", str(ROOT / "alembic.ini"), "upgrade", "head"], tmp_path, url)
    assert done.returncode == 0, done.stderr
    assert open_catalog(url).current_revision() in head_revisions()


def test_two_processes_starting_at_once_both_find_the_postgresql_schema_ready(postgres_url):
    import threading
    results: list[object] = []

    def start() -> None:
        db = open_catalog(postgres_url)
        try:
            results.append(db.upgrade())
        except Exception as exc:  # noqa: BLE001 - reported below
            results.append(exc)
        finally:
            db.dispose()

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results == [head_revisions()[0]] * 2


def test_head_known_without_alembic_is_alembics_head():
    # Commands learn the head from the migration files as text (no Alembic import at start);
    # it must be the head Alembic itself computes, or a stale database would go unmigrated.
    from alembic.script import ScriptDirectory
    from repository.catalog.database import alembic_config
    assert sorted(head_revisions()) == sorted(
        ScriptDirectory.from_config(alembic_config()).get_heads())
