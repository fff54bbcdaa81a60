"""Harvesting one source into the union catalogue, and leaving a report of the run.

Incremental harvests ask for records ``from`` the start time of the last successful harvest
(in the provider's granularity), not from the newest datestamp seen: answers are not in
date order, and a record changed while a harvest ran carries a datestamp before its end.
``full`` asks for everything, then reconciles deletions with ListIdentifiers for providers
that do not keep deleted records. One broken record is reported and skipped; a source
that fails leaves its last success as it was, so the next harvest covers the gap.
"""
from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

from sqlalchemy import or_, select, update

from repository.catalog.datestamps import as_utc
from repository.config import Settings
from repository.errors import NotFound, UsageError
from repository.metadata.text import normalise_text
from repository.union.client import OaiClient, OaiErrorAnswer, SourceError, check_base_url
from repository.union.models import UnionHarvest, UnionRecord, UnionSource
from repository.union.records import (RecordProblem, read_header, read_record, record_link,
                                      searchable_text, work_key)

MAX_LIST_RESTARTS = 3  # a source whose tokens keep failing is reported, not looped on
MAX_ERRORS_KEPT = 200


@dataclass
class HarvestReport:
    """What one harvest of one source did."""

    source: str
    status: str = "running"
    added: int = 0
    updated: int = 0
    deleted: int = 0
    errors: list[str] = field(default_factory=list)
    started_at: datetime | None = None
    from_datestamp: str | None = None
    full: bool = False

    def error(self, message: str) -> None:
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(message)

    def __str__(self) -> str:
        return (f"{self.source}: {self.status}; added {self.added}, updated {self.updated}, "
                f"deleted {self.deleted}, errors {len(self.errors)}")


# --- sources -------------------------------------------------------------------------------

def add_source(catalog, settings: Settings, name: str, base_url: str, *, set_spec: str | None = None,
               metadata_prefix: str = "oai_dc", interval_hours: int | None = None) -> UnionSource:
    """Register a library's OAI-PMH provider (only an admin's command or API reaches here)."""
    name = unicodedata.normalize("NFC", name.strip())
    if not name:
        raise UsageError("a source needs a name")
    base_url = check_base_url(base_url)
    interval = settings.union_interval_hours if interval_hours is None else interval_hours
    if interval < 1:
        raise UsageError("--every must be at least 1 hour")
    with catalog.session() as session:
        if session.scalar(select(UnionSource.id).where(UnionSource.name == name)):
            raise UsageError(f"a source named {name!r} is already registered")
        source = UnionSource(name=name, base_url=base_url, set_spec=set_spec or None,
                             metadata_prefix=metadata_prefix or "oai_dc", interval_hours=interval)
        session.add(source)
        session.flush()
        session.expunge(source)
    return source


def list_sources(session) -> list[UnionSource]:
    return list(session.scalars(select(UnionSource).order_by(UnionSource.name)))


def get_source(session, name: str) -> UnionSource:
    source = session.scalar(select(UnionSource).where(
        UnionSource.name == unicodedata.normalize("NFC", name.strip())))
    if source is None:
        raise NotFound(f"no union catalogue source named {name!r} (kho union list)")
    return source


def last_harvest(session, source: UnionSource) -> UnionHarvest | None:
    return session.scalar(select(UnionHarvest).where(UnionHarvest.source_id == source.id)
                          .order_by(UnionHarvest.id.desc()).limit(1))


# --- harvesting ----------------------------------------------------------------------------

def _take_lease(catalog, source_id: int, now: datetime, seconds: float) -> bool:
    with catalog.session() as session:
        taken = session.execute(update(UnionSource).where(
            UnionSource.id == source_id,
            or_(UnionSource.harvesting_until.is_(None), UnionSource.harvesting_until < now))
            .values(harvesting_until=now + timedelta(seconds=seconds), last_attempt_at=now))
        return taken.rowcount == 1


def _format_from(moment: datetime, granularity: str | None) -> str:
    moment = as_utc(moment)
    if granularity == "YYYY-MM-DD":
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def harvest_source(settings: Settings, catalog, name: str, *, full: bool = False,
                   sleep: Callable[[float], None] = time.sleep) -> HarvestReport:
    """Harvest one source now; the report is also stored (union_harvests)."""
    with catalog.session() as session:
        source = get_source(session, name)
        source_id, base_url, prefix = source.id, source.base_url, source.metadata_prefix
        set_spec, last_success = source.set_spec, source.last_success_started_at
    report = HarvestReport(source=name, full=full)
    started = datetime.now(timezone.utc).replace(microsecond=0)
    report.started_at = started
    if not _take_lease(catalog, source_id, started, 6 * 3600):
        report.status = "busy"
        report.error("another process is harvesting this source now")
        return report
    with catalog.session() as session:
        row = UnionHarvest(source_id=source_id, started_at=started, full=full, errors=[])
        session.add(row)
        session.flush()
        harvest_id = row.id
    client = OaiClient(base_url, settings, sleep=sleep)
    try:
        identify = client.identify()
        granularity = identify.get("granularity")
        params = {"metadataPrefix": prefix}
        if set_spec:
            params["set"] = set_spec
        if not full and last_success is not None:
            report.from_datestamp = params["from"] = _format_from(last_success, granularity)
        seen = _harvest_records(catalog, client, source_id, params, report)
        if full:
            _reconcile_deletions(catalog, client, source_id, params, seen, report)
        report.status = "success"
    except SourceError as exc:
        report.status = "failed"
        report.error(str(exc))
        granularity = None
    finally:
        with catalog.session() as session:
            source = session.get(UnionSource, source_id)
            if report.status == "success":
                source.last_success_started_at = started
                source.granularity = granularity
            source.harvesting_until = None
            row = session.get(UnionHarvest, harvest_id)
            row.finished_at = datetime.now(timezone.utc)
            row.status = report.status if report.status in ("success", "failed") else "failed"
            row.from_datestamp = report.from_datestamp
            row.added, row.updated, row.deleted = report.added, report.updated, report.deleted
            row.errors = list(report.errors)
    return report


def _harvest_records(catalog, client: OaiClient, source_id: int, params: dict,
                     report: HarvestReport) -> set[str]:
    """Every page of ListRecords; a badResumptionToken restarts the list (upserts are idempotent)."""
    seen: set[str] = set()
    for attempt in range(MAX_LIST_RESTARTS + 1):
        try:
            for page in client.pages("ListRecords", params):
                for problem in page.problems:
                    report.error(problem)
                seen |= _store_page(catalog, client, source_id, page.items, params, report)
            return seen
        except OaiErrorAnswer as exc:
            if exc.code == "noRecordsMatch":
                return seen
            if exc.code == "badResumptionToken" and attempt < MAX_LIST_RESTARTS:
                report.error(f"the source refused its own resumption token ({exc}); "
                             "the list was started again")
                continue
            raise
    return seen  # pragma: no cover


def _store_page(catalog, client: OaiClient, source_id: int, items: Iterable, params: dict,
                report: HarvestReport) -> set[str]:
    harvested = []
    for element in items:
        try:
            harvested.append(read_record(element))
        except RecordProblem as exc:
            report.error(f"a record was skipped: {exc}")
    if not harvested:
        return set()
    now = datetime.now(timezone.utc)
    with catalog.session() as session:
        existing = {r.oai_identifier: r for r in session.scalars(select(UnionRecord).where(
            UnionRecord.source_id == source_id,
            UnionRecord.oai_identifier.in_([h.oai_identifier for h in harvested])))}
        added_now: set[str] = set()
        for item in harvested:
            if item.oai_identifier in added_now:  # a repeat within one page
                continue
            row = existing.get(item.oai_identifier)
            if item.deleted:
                if row is not None and not row.deleted:
                    row.deleted, row.datestamp, row.harvested_at = True, item.datestamp, now
                    row.raw_xml = item.raw_xml
                    report.deleted += 1
                continue
            values = dict(datestamp=item.datestamp, harvested_at=now, deleted=False,
                          set_specs=item.set_specs, raw_xml=item.raw_xml, record=item.record,
                          title=normalise_text((item.record.get("title") or [{}])[0]
                                               .get("value", ""))[:2000],
                          search_text=searchable_text(item.record),
                          work_key=work_key(item.record),
                          link=record_link(item.record, client.base_url, item.oai_identifier,
                                           params["metadataPrefix"])[:2000])
            if row is None:
                session.add(UnionRecord(source_id=source_id, oai_identifier=item.oai_identifier,
                                        **values))
                added_now.add(item.oai_identifier)
                report.added += 1
            else:
                if row.deleted or row.datestamp != item.datestamp or row.raw_xml != item.raw_xml:
                    report.updated += 1
                for key, value in values.items():
                    setattr(row, key, value)
    return {h.oai_identifier for h in harvested if not h.deleted}


def _reconcile_deletions(catalog, client: OaiClient, source_id: int, params: dict,
                         seen: set[str], report: HarvestReport) -> None:
    """Records the source no longer lists are deleted here too (for providers that forget)."""
    listed: set[str] = set()
    query = {k: v for k, v in params.items() if k != "from"}
    try:
        for page in client.pages("ListIdentifiers", query):
            for header in page.items:
                try:
                    identifier, _, deleted, _ = read_header(header)
                except RecordProblem as exc:
                    report.error(f"a header was skipped: {exc}")
                    continue
                if not deleted:
                    listed.add(identifier)
            if page.problems:  # a broken page: too little is known to delete anything
                report.error("ListIdentifiers had broken headers; deletions not reconciled")
                return
    except OaiErrorAnswer as exc:
        if exc.code != "noRecordsMatch":
            report.error(f"deletions not reconciled: {exc}")
            return
    now = datetime.now(timezone.utc)
    with catalog.session() as session:
        for row in session.scalars(select(UnionRecord).where(
                UnionRecord.source_id == source_id, UnionRecord.deleted.is_(False))):
            if row.oai_identifier not in listed:
                row.deleted, row.harvested_at = True, now
                report.deleted += 1


def due_sources(session, now: datetime) -> list[str]:
    """Names of the sources whose interval has passed since their last attempt."""
    names = []
    for source in list_sources(session):
        last = source.last_attempt_at
        if last is None or as_utc(last) + timedelta(hours=source.interval_hours) <= now:
            names.append(source.name)
    return names


def harvest_all(settings: Settings, catalog, *, full: bool = False, only_due: bool = False,
                sleep: Callable[[float], None] = time.sleep) -> list[HarvestReport]:
    """Harvest every source (or only those due), one after another; a failing one never
    stops the others."""
    with catalog.session() as session:
        names = due_sources(session, datetime.now(timezone.utc)) if only_due else \
            [s.name for s in list_sources(session)]
    reports = []
    for name in names:
        try:
            reports.append(harvest_source(settings, catalog, name, full=full, sleep=sleep))
        except Exception as exc:  # noqa: BLE001 - one source's fault must not stop the rest
            reports.append(HarvestReport(source=name, status="failed",
                                         errors=[f"{type(exc).__name__}: {exc}"]))
    return reports

