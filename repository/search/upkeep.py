"""Keeping the index in step with the catalogue, in the catalogue's own transaction.

Every writer of an AIP's description or access (ingest, a new version, a Dublin Core edit,
an access change, ``kho catalog rebuild``) goes through a catalogue session; the session's
``after_flush`` hook (``keep_index_in_step``) re-indexes the AIPs that flush touched, so the
index commits or rolls back with them. The text room calls ``index_aips`` itself once an
AIP's page text has changed (an OCR run stores a book page by page: once, at its end). Deleting an AIP
deletes its documents by cascade. ``drop_aip`` is for withdrawal; ``reindex`` rebuilds
everything (``kho search reindex``).

Records harvested into the union catalogue are indexed the same way: the flush that writes
or marks deleted a ``UnionRecord`` (a harvest's page, a reconciliation of deletions) writes
or drops its ``union`` document. AIP and union documents carry the key of the work they
describe (``union.records.work_key``), so the union search groups one work's holders.

An AIP's document holds its description and the text of all its pages, so a record is
found by what is written inside it; one ``page`` document per page with text says on which
pages (``finder.pages_matching``).
"""
from __future__ import annotations

from typing import Iterable

from sqlalchemy import delete, event, func, inspect, select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from repository.catalog.models import Aip, AipFile, Collection, DublinCoreRecord, utcnow
from repository.search.documents import DocumentText, describe
from repository.search.models import (AIP_DOCUMENT, PAGE_DOCUMENT, UNION_DOCUMENT,
                                      SearchDocument, SearchFacet, SearchWord)
from repository.union.models import UnionRecord
from repository.union.records import work_key

BATCH = 2000
MAX_WORD = 100
# Attributes of an AIP that its search documents or facets depend on (a new version may
# bring other pages).
_AIP_FIELDS = ("access", "embargo_until", "collection_id", "collection", "current_version",
               "withdrawn_at")


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
        connection.execute(delete(SearchDocument).where(
            SearchDocument.aip_id.in_(batch),
            SearchDocument.kind.in_((AIP_DOCUMENT, PAGE_DOCUMENT))))
        rows = connection.execute(
            select(Aip.id, Aip.access, Collection.name, DublinCoreRecord.record,
                   DublinCoreRecord.title, Aip.embargo_until, Aip.collection_id,
                   Aip.withdrawn_at)
            .join(Collection, Collection.id == Aip.collection_id)
            .outerjoin(DublinCoreRecord, DublinCoreRecord.aip_id == Aip.id)
            .where(Aip.id.in_(batch))).all()
        pages = _page_texts(connection, batch)
        written += _write(connection, rows, pages)
    return written


def _page_texts(connection, aip_ids: list[int]) -> dict[int, list[tuple[int, str, str]]]:
    """(page number, image path, text) of each current page with text, by AIP id."""
    from repository.text.models import PageText
    texts: dict[tuple[int, str], list[str]] = {}
    for aip_id, sha512, text in connection.execute(
            select(PageText.aip_id, PageText.image_sha512, PageText.text)
            .where(PageText.aip_id.in_(aip_ids), PageText.text != "")
            .order_by(PageText.source.desc(), PageText.language)):  # transcriptions first
        texts.setdefault((aip_id, sha512), []).append(text)
    if not texts:
        return {}
    # Imported only now: the page order brings the IIIF library (~0.4 s), which every
    # ingest of a bag without page texts paid here, and commands that only open the
    # catalogue should not pay for at all.
    from repository.access.presentation import page_images
    with_text = sorted({aip_id for aip_id, _ in texts})
    files: dict[int, list] = {}
    identifiers: dict[int, str] = {}
    for row in connection.execute(
            select(AipFile.aip_id, AipFile.logical_path, AipFile.sha512, AipFile.role,
                   AipFile.mime_type, AipFile.width, AipFile.height, Aip.identifier)
            .join(Aip, (Aip.id == AipFile.aip_id) & (AipFile.version == Aip.current_version))
            .where(AipFile.aip_id.in_(with_text))):
        files.setdefault(row.aip_id, []).append(row)
        identifiers[row.aip_id] = row.identifier
    out: dict[int, list[tuple[int, str, str]]] = {}
    for aip_id, rows in files.items():
        sha_of = {row.logical_path: row.sha512 for row in rows}
        for number, image in enumerate(page_images(rows, identifiers[aip_id]), start=1):
            found = texts.get((aip_id, sha_of[image.logical_path]))
            if found:
                out.setdefault(aip_id, []).append((number, image.logical_path, "\n".join(found)))
    return out


def _work_key(record: dict | None, alone: str) -> str:
    """The work ``record`` describes; ``alone`` when it says too little to match another."""
    key = work_key(record or {})
    return alone if key == "tcd:||" else key


def _write(connection, rows, pages: dict[int, list[tuple[int, str, str]]]) -> int:
    if not rows:
        return 0
    now = utcnow()
    documents = []
    # Who may read each document: its AIP's access rule, copied (see SearchDocument.access).
    readers = {row.id: {"access": row.access, "embargo_until": row.embargo_until,
                        "collection_id": row.collection_id,
                        "withdrawn": row.withdrawn_at is not None} for row in rows}
    for aip_id, access, collection, record, title, *_ in rows:
        doc = describe(record or {}, fallback_title=title or "", collection=collection,
                       access=access)
        if aip_id in pages:
            doc.add_text("\n".join(text for _, _, text in pages[aip_id]))
        documents.append((aip_id, doc, _work_key(record, f"aip:{aip_id}")))
    _insert_documents(connection, [{"aip_id": aip_id, "kind": AIP_DOCUMENT, "updated_at": now,
                                    "work_key": key, **doc.row(), **readers[aip_id]}
                                   for aip_id, doc, key in documents])
    documents = [(aip_id, doc) for aip_id, doc, _ in documents]
    # One AIP document per AIP, so (aip_id, kind) finds the new ids without RETURNING,
    # which SQLite would answer one row at a time.
    id_of = dict(connection.execute(
        select(SearchDocument.aip_id, SearchDocument.id).where(
            SearchDocument.aip_id.in_([aip_id for aip_id, _ in documents]),
            SearchDocument.kind == AIP_DOCUMENT)).all())
    ids = [id_of[aip_id] for aip_id, _ in documents]
    _write_facets(connection, zip(ids, (doc for _, doc in documents)))
    # Page documents carry no facets: they only say where in a found AIP its words are.
    page_rows = []
    for aip_id, _ in documents:
        for number, path, text in pages.get(aip_id, []):
            page = DocumentText()
            page.add_text(text)
            page_rows.append({"aip_id": aip_id, "kind": PAGE_DOCUMENT, "page": number,
                              "ref": path[:500], "updated_at": now, **page.row(),
                              **readers[aip_id]})
    for start in range(0, len(page_rows), BATCH):
        _insert_documents(connection, page_rows[start:start + BATCH])
    _write_words(connection, (doc for _, doc in documents))
    return len(ids)


_TEXT = ("title", "creator", "subject", "body", "exact")
_POSTGRES_KEPT = ("title",)  # for sorting by title; the rest lives only in the vector


def _insert_documents(connection, rows: list[dict]) -> None:
    """Insert search documents: on SQLite their text, which FTS5 indexes (its triggers);
    on PostgreSQL their search vector, computed here from the text, and the title only."""
    if not rows:
        return
    if connection.dialect.name != "postgresql":
        connection.execute(SearchDocument.__table__.insert(), rows)
        return
    from repository.search.schema import POSTGRES_VECTOR
    columns = [c.name for c in SearchDocument.__table__.columns if c.name != "id"]
    statement = sql_text(
        f"INSERT INTO search_documents ({', '.join(columns)}, search_vector) VALUES "
        f"({', '.join(':' + c for c in columns)}, {POSTGRES_VECTOR})")
    defaults = {c: None for c in columns}
    connection.execute(statement, [
        {**defaults, **row, "withdrawn": row.get("withdrawn", False),
         **{f"v_{name}": row.get(name, "") for name in _TEXT},
         **{name: row.get(name, "") if name in _POSTGRES_KEPT else "" for name in _TEXT}}
        for row in rows])


def _write_facets(connection, documents: Iterable[tuple[int, DocumentText]]) -> None:
    facets = [{"document_id": document_id, "facet": facet, "value": value}
              for document_id, doc in documents for facet, value in doc.facets]
    if facets:
        connection.execute(SearchFacet.__table__.insert(), facets)


def _write_words(connection, documents: Iterable[DocumentText]) -> None:
    words = set().union(*(doc.words() for doc in documents))
    words = [{"word": w} for w in sorted(words) if len(w) <= MAX_WORD]
    if words:
        connection.execute(_insert_ignoring_duplicates(connection.dialect.name,
                                                       SearchWord.__table__), words)


def index_union_records(session: Session, record_ids: Iterable[int]) -> int:
    """(Re)write the union documents of these harvested records; a record marked deleted
    leaves search. How many documents were written."""
    connection = session.connection()  # Core only: this also runs inside a flush
    record_ids = sorted(set(record_ids))
    written = 0
    for start in range(0, len(record_ids), BATCH):
        batch = record_ids[start:start + BATCH]
        connection.execute(delete(SearchDocument).where(
            SearchDocument.union_record_id.in_(batch)))
        rows = connection.execute(
            select(UnionRecord.id, UnionRecord.record, UnionRecord.title)
            .where(UnionRecord.id.in_(batch), UnionRecord.deleted.is_(False))).all()
        if not rows:
            continue
        now = utcnow()
        # Harvested descriptions are public: no access facet, no collection of Kho's.
        documents = [(record_id, describe(record or {}, fallback_title=title or ""),
                      _work_key(record, f"union:{record_id}"))
                     for record_id, record, title in rows]
        _insert_documents(connection, [{"union_record_id": record_id, "kind": UNION_DOCUMENT,
                                        "updated_at": now, "work_key": key, **doc.row()}
                                       for record_id, doc, key in documents])
        id_of = dict(connection.execute(
            select(SearchDocument.union_record_id, SearchDocument.id).where(
                SearchDocument.union_record_id.in_([r for r, _, _ in documents]))).all())
        _write_facets(connection, ((id_of[r], doc) for r, doc, _ in documents))
        _write_words(connection, (doc for _, doc, _ in documents))
        written += len(documents)
    return written


def drop_aip(session: Session, aip_id: int) -> None:
    """Take an AIP out of search (withdrawal): its documents of every kind, now."""
    session.execute(delete(SearchDocument).where(SearchDocument.aip_id == aip_id))


def reindex(session: Session, progress=None) -> int:
    """Rebuild the whole index: every AIP's documents and every live harvested record's;
    how many AIPs were indexed (``count_union_documents`` tells the rest)."""
    session.execute(delete(SearchDocument))
    session.execute(delete(SearchWord))
    done, last = 0, 0
    while True:
        batch = list(session.scalars(select(Aip.id).where(Aip.id > last)
                                     .order_by(Aip.id).limit(BATCH)))
        if not batch:
            break
        index_aips(session, batch)
        done, last = done + len(batch), batch[-1]
        if progress:
            progress(done)
    last = 0
    while True:
        batch = list(session.scalars(select(UnionRecord.id).where(
            UnionRecord.id > last, UnionRecord.deleted.is_(False))
            .order_by(UnionRecord.id).limit(BATCH)))
        if not batch:
            break
        index_union_records(session, batch)
        last = batch[-1]
    if session.get_bind().dialect.name == "sqlite":
        # Deleting and rewriting every document leaves FTS5 its old segments beside the
        # new until merges catch up: 76 MB instead of 46 MB at 100,000 records. One merge
        # now (under a second there) leaves the index as a fresh build would.
        from repository.search.schema import FTS_TABLE
        session.execute(sql_text(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('optimize')"))
    return done


def count_union_documents(session: Session) -> int:
    """How many harvested records search can find."""
    return session.scalar(select(func.count()).where(
        SearchDocument.kind == UNION_DOCUMENT)) or 0


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


def _touched_union_records(session: Session) -> set[int]:
    return {obj.id for obj in list(session.new) + list(session.dirty)
            if isinstance(obj, UnionRecord)
            and (obj in session.new or session.is_modified(obj))} - {None}


def _after_flush(session: Session, _context) -> None:
    touched = _touched_aips(session)
    if touched:
        index_aips(session, touched)
    harvested = _touched_union_records(session)
    if harvested:
        index_union_records(session, harvested)


def keep_index_in_step(sessions) -> None:
    """Make every session of ``sessions`` (a sessionmaker) re-index the AIPs it changes."""
    event.listen(sessions, "after_flush", _after_flush)
