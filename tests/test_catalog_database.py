"""Opening the catalogue: sessions commit or roll back as a whole; the schema is enforced."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from repository.catalog import Aip, Collection, head_revisions, open_catalog
from repository.cli import kho


def test_session_commits_on_success_and_rolls_back_on_error(catalog):
    with catalog.session() as session:
        session.add(Collection(name="kept"))
    with pytest.raises(RuntimeError):
        with catalog.session() as session:
            session.add(Collection(name="discarded"))
            session.flush()
            raise RuntimeError("boom")
    with catalog.session() as session:
        assert session.scalars(select(Collection.name)).all() == ["kept"]


def test_an_aip_must_belong_to_an_existing_collection(catalog):
    # SQLite enforces this only with PRAGMA foreign_keys=ON, set on every connection.
    with pytest.raises(IntegrityError):
        with catalog.session() as session:
            session.add(Aip(identifier="orphan", ocfl_id="urn:kho:orphan", collection_id=999,
                            location="local", object_root="orphan", payload_digest="0" * 64))
    with catalog.session() as session:
        assert session.scalar(select(func.count()).select_from(Aip)) == 0


def test_kho_catalog_upgrade_creates_then_reports_up_to_date(tmp_path):
    url = f"sqlite:///{tmp_path / 'data' / 'kho.sqlite3'}"
    runner = CliRunner()
    first = runner.invoke(kho, ["catalog", "upgrade"], env={"KHO_DATABASE_URL": url})
    assert first.exit_code == 0, first.output
    assert f"upgraded from empty to {head_revisions()[0]}" in first.output
    second = runner.invoke(kho, ["catalog", "upgrade"], env={"KHO_DATABASE_URL": url})
    assert "already at revision" in second.output
    assert open_catalog(url).current_revision() == head_revisions()[0]


@pytest.mark.postgres
def test_postgresql_plans_every_statement_for_its_own_parameters_uncompiled(postgres_url):
    # A search's best plan depends on its words; a generic plan, which PostgreSQL settles
    # on for a statement psycopg has prepared, made a pooled server's searches 3x slower.
    from sqlalchemy import text
    catalog = open_catalog(postgres_url, pool_size=1, max_overflow=0)
    try:
        for _ in range(3):  # the same pooled connection, each checkout after a rollback
            with catalog.engine.connect() as connection:
                assert connection.execute(text("SHOW plan_cache_mode")).scalar() == \
                    "force_custom_plan"
                # Nor compiled, which a search at a million records is estimated to be
                # worth and which cost it more than it saved.
                assert connection.execute(text("SHOW jit")).scalar() == "off"
                connection.rollback()
    finally:
        catalog.dispose()


def test_sqlite_reads_its_pages_memory_mapped(tmp_path):
    # A search at a million records looks up thousands of scattered rows: through a
    # connection's own small page cache, each miss was a system call.
    from repository.catalog.database import SQLITE_MMAP_BYTES
    catalog = open_catalog(f"sqlite:///{tmp_path / 'kho.sqlite3'}")
    try:
        with catalog.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA mmap_size").scalar() >= min(
                SQLITE_MMAP_BYTES, 2 ** 31 - 2 ** 16)
    finally:
        catalog.dispose()
