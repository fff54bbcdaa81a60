"""When a record last changed for a harvester: the OAI-PMH datestamp of an AIP.

A harvester asks "what changed since T?" (OAI-PMH 2.0 §2.7.1). A new version, a Dublin
Core edit, an access change and a withdrawal all change the record, and so does the end of
an embargo, although nothing is written at that moment. So the datestamp is kept on every
write as the later of the last change and the moment the embargo ends (00:00 UTC of its
date): an embargoed AIP then carries a datestamp in the future, stays out of every list
until that moment (the access condition in access/oai.py), and afterwards sorts after every
harvest made before it, so an incremental harvest picks it up.

Kept by mapper events so that every writer (ingest, amendments, rebuild, collection
changes) keeps it without remembering to.
"""
from __future__ import annotations

from datetime import date, datetime, time, timezone

from sqlalchemy import event, inspect, select, update

from repository.catalog.models import Aip, Collection, DublinCoreRecord
from repository.metadata.oai_dc import oai_dc_elements

EMBARGOED = "embargoed"


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None \
        else moment.astimezone(timezone.utc)


def embargo_lifts_at(level: str | None, until: date | None) -> datetime | None:
    """The moment an embargo ends (start of its date, UTC), or None without an embargo."""
    if level != EMBARGOED or until is None:
        return None
    return datetime.combine(until, time(0, 0), tzinfo=timezone.utc)


def harvest_datestamp(changed_at: datetime, *lifts: datetime | None) -> datetime:
    """The later of ``changed_at`` and every embargo end, in whole seconds (the granularity)."""
    moments = [as_utc(changed_at)] + [m for m in lifts if m is not None]
    return max(moments).replace(microsecond=0)


def _collection_lift(connection, aip: Aip) -> datetime | None:
    collection = aip.__dict__.get("collection")
    if collection is not None:
        return embargo_lifts_at(collection.access, collection.embargo_until)
    if aip.collection_id is None:
        return None
    row = connection.execute(select(Collection.access, Collection.embargo_until)
                             .where(Collection.id == aip.collection_id)).first()
    return embargo_lifts_at(*row) if row else None


@event.listens_for(Aip, "before_insert")
@event.listens_for(Aip, "before_update")
def _stamp_aip(_mapper, connection, aip: Aip) -> None:
    changed = aip.updated_at or datetime.now(timezone.utc)
    aip.oai_datestamp = harvest_datestamp(
        changed, embargo_lifts_at(aip.access, aip.embargo_until), _collection_lift(connection, aip))


@event.listens_for(Collection, "before_update")
def _stamp_collection_aips(_mapper, connection, collection: Collection) -> None:
    """A collection's access change is a change of every AIP in it, for a harvester."""
    state = inspect(collection)
    if not (state.attrs.access.history.has_changes()
            or state.attrs.embargo_until.history.has_changes()):
        return
    # The moment the change's event gives (collection_access.py), so that a rebuild, which
    # knows the change only by its event, gives every AIP the same datestamp again.
    now = collection.__dict__.get("access_changed_at") or datetime.now(timezone.utc)
    lift = embargo_lifts_at(collection.access, collection.embargo_until)
    table = Aip.__table__
    rows = connection.execute(select(table.c.id, table.c.access, table.c.embargo_until)
                              .where(table.c.collection_id == collection.id)).all()
    for aip_id, level, until in rows:
        connection.execute(update(table).where(table.c.id == aip_id).values(
            oai_datestamp=harvest_datestamp(now, embargo_lifts_at(level, until), lift)))


@event.listens_for(DublinCoreRecord, "before_insert")
@event.listens_for(DublinCoreRecord, "before_update")
def _render_oai_dc(_mapper, _connection, record: DublinCoreRecord) -> None:
    record.oai_dc = oai_dc_elements(record.record or {})
