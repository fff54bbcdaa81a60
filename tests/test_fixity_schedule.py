"""The schedule: never-checked first, then oldest, bounded batches, one checker per AIP."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from repository.catalog import Aip, open_catalog
from repository.fixity import (FixityAipStatus, FixityCheck, acquire_lease, next_batch,
                               release_lease)
from repository.ingest.pipeline import ingest_package
from tests.fixtures.aips import add_collections, make_page_bag

KHO = [str(Path(sys.executable).parent / "kho")]


@pytest.fixture
def four_aips(settings, tmp_path):
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    add_collections(catalog, "C")
    ids = [ingest_package(make_page_bag(tmp_path / f"b{n}", pages=1, size=(40, 50),
                                        external_id=f"X-{n}"),
                          settings=settings, catalog=catalog, collection="C").identifier
           for n in range(4)]
    yield catalog, ids
    catalog.dispose()


def test_batch_takes_never_checked_first_then_oldest_within_the_byte_budget(four_aips, settings):
    catalog, ids = four_aips
    now = datetime.now(timezone.utc)
    with catalog.session() as session:
        batch = next_batch(session, settings, now=now, budget=1)
        assert [d.identifier for d in batch] == ids  # never checked: all due, whatever the budget
        for n, ident in enumerate(ids):  # checked 10, 20, 30, 40 days ago
            aip_id = session.scalar(select(Aip.id).where(Aip.identifier == ident))
            session.get(FixityAipStatus, aip_id).last_checked_at = now - timedelta(days=10 * (n + 1))
    with catalog.session() as session:
        size = session.scalar(select(func.max(Aip.total_size)))
        batch = next_batch(session, settings, now=now, budget=2 * size)
        assert [d.identifier for d in batch] == [ids[3], ids[2]]  # oldest first, 2 fit
        overdue = next_batch(session, settings.replace(fixity_interval_days=15), now=now, budget=1)
        assert [d.identifier for d in overdue] == [ids[3], ids[2], ids[1]]  # all overdue ones


def test_a_lease_keeps_a_second_checker_off_until_released_or_expired(four_aips):
    catalog, _ = four_aips
    assert acquire_lease(catalog, 1, "a", 60)
    assert not acquire_lease(catalog, 1, "b", 60)
    release_lease(catalog, 1, "a")
    assert acquire_lease(catalog, 1, "b", -1)  # already expired
    assert acquire_lease(catalog, 1, "c", 60)


def test_two_scheduler_processes_never_check_the_same_aip_twice(four_aips, settings):
    catalog, ids = four_aips
    env = {**os.environ, "KHO_DATA_DIR": str(settings.data_dir),
           "KHO_STORAGE_CONFIG": str(settings.storage_config_dir),
           "KHO_DATABASE_URL": settings.catalog_url, "KHO_FIXITY_THREADS": "1"}
    procs = [subprocess.Popen(KHO + ["fixity", "scheduler", "--once"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    with catalog.session() as session:
        checks = session.scalars(select(FixityCheck)).all()
    assert sorted(c.aip_identifier for c in checks) == sorted(ids), outputs
    assert all(c.outcome == "success" for c in checks)


def test_an_aip_checked_by_a_check_that_started_before_the_choice_is_not_checked_again(
        four_aips, settings):
    """Scheduler B chooses while A is mid-check of the same AIPs: A's checks began before B's
    choice, so B's time of choosing cannot tell them apart; what B saw of each AIP can."""
    from repository.fixity.run import check_aips
    catalog, ids = four_aips
    with catalog.session() as session:
        seen_by_b = next_batch(session, settings)
    check_aips(settings, catalog, ids)  # A, whose checks started before B chose
    chosen_by_b = datetime.now(timezone.utc)
    summary = check_aips(settings, catalog, ids, not_checked_since=chosen_by_b,
                         last_seen={d.identifier: d.last_checked_at for d in seen_by_b})
    assert summary.checks == [] and sorted(summary.skipped) == sorted(ids)
    with catalog.session() as session:
        assert session.scalar(select(func.count()).select_from(FixityCheck)) == len(ids)


def test_kho_repair_holds_the_aips_lease_over_its_check_and_repair(four_aips, settings):
    from repository.fixity.models import FixityLease
    from repository.fixity.repair import repair_aip
    catalog, ids = four_aips
    with catalog.session() as session:
        aip_id = session.scalar(select(Aip.id).where(Aip.identifier == ids[0]))
    assert acquire_lease(catalog, aip_id, "another checker", 60)
    busy = repair_aip(settings, catalog, ids[0], agent="lan")
    assert busy.outcome == "not repaired" and "another process" in busy.unrepaired[""][0]
    with catalog.session() as session:
        assert session.scalar(select(func.count()).select_from(FixityCheck)) == 0
    release_lease(catalog, aip_id, "another checker")
    done = repair_aip(settings, catalog, ids[0], agent="lan")
    assert done.outcome != "not repaired"
    with catalog.session() as session:
        assert session.scalar(select(func.count()).select_from(FixityCheck)) == 1
        assert session.scalar(select(func.count()).select_from(FixityLease)) == 0  # let go
