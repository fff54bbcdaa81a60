"""Keeping the index in step with the catalogue, in the catalogue's own transaction.

Every writer of an AIP's description or access (ingest, a new version, a Dublin Core edit,
an access change, ``kho catalog rebuild``) goes through a catalogue session; the session's
``after_flush`` hook (``keep_index_in_step``) re-indexes the AIPs that flush touched, so the
index commits or rolls back with them. Deleting an AIP deletes its documents by cascade.
``drop_aip`` is for withdrawal; ``reindex`` rebuilds everything (``kho search reindex``).
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import delete, event, inspect, select
from sqlalchemy.orm import Session

from repository.catalog.models import Aip, Collection, DublinCoreRecord, utcnow
from repository.search.documents import describe
from repository.search.models import AIP_DOCUMENT, SearchDocument, SearchFacet, SearchWord

BATCH = 2000
MAX_WORD = 100
# Attributes of an AIP that its search document or facets depend on.
_AIP_FIELDS = ("access", "embargo_until", "collection_id", "collection")


def _insert_ignoring_duplicates(dialect: str, table):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table).on_conflict_do_nothing()


def index_aips(session: Session, aip_ids: Iterable[int]) -> int:
    """(Re)write the search documents of these AIPs from the catalogue; how many written."""
    connection = session.connection()  # Core only: this also runs inside a flush
    aip_ids = sorted(set(aip_ids))
    written = 0
    for start in range(0, len(aip_ids), BATCH):
        batch = aip_ids[start:start + BATCH]
        connection.execute(delete(SearchDocument).where(SearchDocument.aip_id.in_(batch),
                                                     SearchDocument.kind == AIP_DOCUMENT))
        rows = connection.execute(
            select(Aip.id, Aip.access, Collection.name, DublinCoreRecord.record,
                   DublinCoreRecord.title)
            .join(Collection, Collection.id == Aip.collection_id)
            .outerjoin(DublinCoreRecord, DublinCoreRecord.aip_id == Aip.id)
            .where(Aip.id.in_(batch))).all()
        written += _write(connection, rows)
    return written


def _write(connection, rows) -> int:
    if not rows:
        return 0
    now = utcnow()
    documents = [(aip_id, describe(record or {}, fallback_title=title or "",
                                   collection=collection, access=access))
                 for aip_id, access, collection, record, title in rows]
    connection.execute(SearchDocument.__table__.insert(),
                       [{"aip_id": aip_id, "kind": AIP_DOCUMENT, "updated_at": now, **doc.row()}
                        for aip_id, doc in documents])
    # One AIP document per AIP, so (aip_id, kind) finds the new ids without RETURNING,
    # which SQLite would answer one row at a time.
    id_of = dict(connection.execute(
        select(SearchDocument.aip_id, SearchDocument.id).where(
            SearchDocument.aip_id.in_([aip_id for aip_id, _ in documents]),
            SearchDocument.kind == AIP_DOCUMENT)).all())
    ids = [id_of[aip_id] for aip_id, _ in documents]
    facets = [{"document_id": document_id, "facet": facet, "value": value}
              for document_id, (_, doc) in zip(ids, documents) for facet, value in doc.facets]
    if facets:
        connection.execute(SearchFacet.__table__.insert(), facets)
    words = set().union(*(doc.words() for _, doc in documents))
    if words:
        connection.execute(_insert_ignoring_duplicates(connection.dialect.name,
                                                       SearchWord.__table__),
                        [{"word": w} for w in sorted(words) if len(w) <= MAX_WORD])
    return len(ids)


def drop_aip(session: Session, aip_id: int) -> None:
    """Take an AIP out of search (withdrawal): its documents of every kind, now."""
    session.execute(delete(SearchDocument).where(SearchDocument.aip_id == aip_id))


def reindex(session: Session, progress=None) -> int:
    """Rebuild the AIP documents of the whole catalogue; how many AIPs were indexed."""
    session.execute(delete(SearchDocument).where(SearchDocument.kind == AIP_DOCUMENT))
    session.execute(delete(SearchWord))
    done, last = 0, 0
    while True:
        batch = list(session.scalars(select(Aip.id).where(Aip.id > last)
                                     .order_by(Aip.id).limit(BATCH)))
        if not batch:
            return done
        index_aips(session, batch)
        done, last = done + len(batch), batch[-1]
        if progress:
            progress(done)


def _touched_aips(session: Session) -> set[int]:
    touched: set[int] = set()
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, DublinCoreRecord):
            if obj in session.new or session.is_modified(obj):
                touched.add(obj.aip_id if obj.aip_id is not None else obj.aip.id)
        elif isinstance(obj, Aip):
            state = inspect(obj)
            if obj in session.new or any(state.attrs[name].history.has_changes()
                                         for name in _AIP_FIELDS):
                touched.add(obj.id)
    touched.discard(None)
    return touched


def _after_flush(session: Session, _context) -> None:
    touched = _touched_aips(session)
    if touched:
        index_aips(session, touched)


def keep_index_in_step(sessions) -> None:
    """Make every session of ``sessions`` (a sessionmaker) re-index the AIPs it changes."""
    event.listen(sessions, "after_flush", _after_flush)
