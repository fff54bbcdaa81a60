"""The PREMIS event log: events are recorded, chained, and tampering is caught."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from repository.catalog import (EVENT_TYPES, PremisEvent, chain_head, event_digest,
                                record_event, verify_chain)
from repository.cli import kho
from repository.errors import CatalogError


def _record(session, n: int, aip: str = "aip-1") -> list[PremisEvent]:
    types = ["ingestion", "validation", "message digest calculation", "format identification",
             "fixity check"]
    return [record_event(session, event_type=types[i % len(types)], agent="kho/0.1.0",
                         outcome="success", detail=f"bước {i}: Hà Nội", aip_identifier=aip,
                         file_path=f"data/trang {i}.tif")
            for i in range(n)]


def test_events_are_chained_to_the_one_before(catalog):
    with catalog.session() as session:
        events = _record(session, 3)
    assert events[0].prev_digest == ""
    assert events[1].prev_digest == events[0].digest
    assert events[2].prev_digest == events[1].digest
    with catalog.session() as session:
        assert chain_head(session) == events[2].digest
        stored = session.scalars(select(PremisEvent).order_by(PremisEvent.id)).all()
        # The digest recomputed from what the database gives back equals the one written.
        assert [event_digest(e) for e in stored] == [e.digest for e in events]
        result = verify_chain(session)
    assert result.ok and result.checked == 3 and result.head == events[2].digest


def test_event_keeps_vietnamese_text_in_nfc_and_the_time_in_utc(catalog):
    when = datetime(2026, 3, 1, 15, 30, 0, 123456, tzinfo=timezone(timedelta(hours=7)))
    with catalog.session() as session:
        record_event(session, event_type="metadata modification", agent="Nguyễn Văn A",
                     outcome="success", detail="Ha\u0300 No\u0323\u0302i", when=when)
    with catalog.session() as session:
        event = session.scalars(select(PremisEvent)).one()
        assert event.detail == "Hà Nội" and event.agent == "Nguyễn Văn A"
        stored = event.event_datetime.replace(tzinfo=event.event_datetime.tzinfo or timezone.utc)
        assert stored == when
        assert verify_chain(session).ok


def test_unknown_event_type_or_outcome_is_refused(catalog):
    assert "fixity check" in EVENT_TYPES and "ingestion" in EVENT_TYPES
    with catalog.session() as session:
        with pytest.raises(CatalogError, match="unknown PREMIS event type"):
            record_event(session, event_type="made up", agent="x", outcome="success")
        with pytest.raises(CatalogError, match="outcome"):
            record_event(session, event_type="ingestion", agent="x", outcome="ok")


def test_a_rolled_back_event_leaves_the_chain_intact(catalog):
    with catalog.session() as session:
        _record(session, 2)
    with pytest.raises(RuntimeError):
        with catalog.session() as session:
            _record(session, 1)
            raise RuntimeError("ingest failed after recording")
    with catalog.session() as session:
        _record(session, 1)
        result = verify_chain(session)
    assert result.ok and result.checked == 3


def _ids(catalog) -> list[int]:
    with catalog.session() as session:
        return list(session.scalars(select(PremisEvent.id).order_by(PremisEvent.id)))


def _tamper(catalog, sql: str, **params) -> None:
    with catalog.engine.begin() as connection:
        connection.execute(text(sql), params)


def test_verify_names_an_event_altered_in_the_database(catalog):
    with catalog.session() as session:
        _record(session, 5)
    ids = _ids(catalog)
    _tamper(catalog, "UPDATE premis_events SET outcome = 'failure' WHERE id = :id", id=ids[2])
    with catalog.session() as session:
        result = verify_chain(session)
        assert not result.ok and result.checked == 2
        assert result.first_bad.id == ids[2] and "altered" in result.reason


def test_verify_names_the_event_after_a_deleted_one(catalog):
    with catalog.session() as session:
        _record(session, 5)
    ids = _ids(catalog)
    _tamper(catalog, "DELETE FROM premis_events WHERE id = :id", id=ids[1])
    with catalog.session() as session:
        result = verify_chain(session)
        assert not result.ok and result.first_bad.id == ids[2]
        assert "removed" in result.reason


def test_verify_catches_an_event_rewritten_with_a_fresh_digest(catalog):
    with catalog.session() as session:
        _record(session, 4)
    ids = _ids(catalog)
    with catalog.session() as session:  # a careful forger recomputes the row's own digest
        event = session.get(PremisEvent, ids[1])
        event.detail = "nothing happened"
        event.digest = event_digest(event)
    with catalog.session() as session:
        result = verify_chain(session)
        assert not result.ok and result.first_bad.id == ids[2]


def test_verify_names_the_first_of_two_swapped_events(catalog):
    with catalog.session() as session:
        _record(session, 5)
    ids = _ids(catalog)
    columns = ("identifier", "aip_identifier", "event_type", "event_datetime", "agent",
               "outcome", "detail", "file_path", "prev_digest", "digest")
    with catalog.engine.begin() as connection:
        rows = {row.id: row for row in connection.execute(text(
            f"SELECT id, {', '.join(columns)} FROM premis_events WHERE id IN (:a, :b)"),
            {"a": ids[1], "b": ids[3]})}
        # identifier is unique: park one row's value first.
        connection.execute(text("UPDATE premis_events SET identifier = 'tmp' WHERE id = :id"),
                           {"id": ids[1]})
        for target, source in ((ids[3], ids[1]), (ids[1], ids[3])):
            sets = ", ".join(f"{c} = :{c}" for c in columns)
            params = {c: getattr(rows[source], c) for c in columns}
            connection.execute(text(f"UPDATE premis_events SET {sets} WHERE id = :id"),
                               {**params, "id": target})
    with catalog.session() as session:
        result = verify_chain(session)
        assert not result.ok
        assert result.first_bad.id == ids[1]
        assert result.first_bad.identifier == rows[ids[3]].identifier


def test_verify_with_a_recorded_head_catches_events_removed_from_the_end(catalog):
    with catalog.session() as session:
        events = _record(session, 3)
    head = events[-1].digest
    _tamper(catalog, "DELETE FROM premis_events WHERE id = :id", id=events[-1].id)
    with catalog.session() as session:
        assert verify_chain(session).ok  # the chain alone cannot see a cut end…
        result = verify_chain(session, expected_head=head)  # …the head kept in storage can
        assert not result.ok and "removed from the end" in result.reason


def test_concurrent_writers_do_not_fork_the_chain(catalog):
    per_thread, threads = 15, 3
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def append(n: int) -> None:
        try:
            start.wait()
            for i in range(per_thread):
                with catalog.session() as session:
                    record_event(session, event_type="fixity check", agent=f"kho/worker-{n}",
                                 outcome="success", aip_identifier=f"aip-{n}",
                                 detail=f"check {i}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    workers = [threading.Thread(target=append, args=(n,)) for n in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not errors, errors
    with catalog.session() as session:
        result = verify_chain(session)
        prevs = session.scalars(select(PremisEvent.prev_digest)).all()
    assert result.ok, result.reason
    assert result.checked == per_thread * threads
    assert len(set(prevs)) == len(prevs)  # no two events claim the same predecessor


def _cli(args: list[str], url: str, data_dir: Path):
    return CliRunner().invoke(kho, args, env={"KHO_DATABASE_URL": url,
                                              "KHO_DATA_DIR": str(data_dir)},
                              catch_exceptions=False)


def test_kho_audit_verify_reports_ok_with_the_chain_head(catalog, tmp_path):
    with catalog.session() as session:
        events = _record(session, 3)
    result = _cli(["audit", "verify"], catalog.engine.url.render_as_string(hide_password=False),
                  tmp_path)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"ok: 3 events, chain head {events[-1].digest}"


def test_kho_audit_verify_names_the_first_bad_event_and_exits_1(catalog, tmp_path):
    with catalog.session() as session:
        events = _record(session, 3)
    _tamper(catalog, "UPDATE premis_events SET agent = 'someone' WHERE id = :id", id=events[1].id)
    result = _cli(["audit", "verify"], catalog.engine.url.render_as_string(hide_password=False),
                  tmp_path)
    assert result.exit_code == 1
    assert f"event id {events[1].id}" in result.output
    assert events[1].identifier in result.output and "type validation" in result.output
    assert events[1].event_datetime.isoformat() in result.output
