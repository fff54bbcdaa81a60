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

import hashlib
from typing import Iterable

from sqlalchemy import bindparam, delete, event, func, inspect, select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from repository.catalog.models import Aip, AipFile, DublinCoreRecord, utcnow
from repository.search.documents import DocumentText, describe
from repository.search.models import (AIP_DOCUMENT, MAX_WORD, PAGE_DOCUMENT, UNION_DOCUMENT,
                                      SearchDocument, SearchFacetValue, SearchWord)
from repository.union.models import UnionRecord
from repository.union.records import work_key

BATCH = 2000
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
        rows = connection.execute(
            select(Aip.id, Aip.access, DublinCoreRecord.record, DublinCoreRecord.title,
                   Aip.embargo_until, Aip.collection_id, Aip.withdrawn_at)
            .outerjoin(DublinCoreRecord, DublinCoreRecord.aip_id == Aip.id)
            .where(Aip.id.in_(batch))).all()
        pages = _page_texts(connection, batch)
        indexed = connection.execute(
            select(SearchDocument.aip_id, SearchDocument.kind, SearchDocument.page,
                   SearchDocument.id, SearchDocument.text_hash)
            .where(SearchDocument.aip_id.in_(batch),
                   SearchDocument.kind.in_((AIP_DOCUMENT, PAGE_DOCUMENT)))).all()
        written += _write(connection, rows, pages,
                          {(a, kind, page): (i, h) for a, kind, page, i, h in indexed})
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


def _write(connection, rows, pages: dict[int, list[tuple[int, str, str]]],
           indexed: dict[tuple, tuple[int, int | None]]) -> int:
    """Write the documents of these AIPs (``rows``) and their pages; ``indexed``: their
    documents already written, (aip id, kind, page) → (id, text hash)."""
    now = utcnow()
    documents: list[tuple[tuple, dict, DocumentText]] = []
    described = []
    for row in rows:
        # Who may read each document: its AIP's access rule, copied (see
        # SearchDocument.access), to its page documents too.
        reader = {"aip_id": row.id, "access": row.access, "embargo_until": row.embargo_until,
                  "collection_id": row.collection_id,
                  "withdrawn": row.withdrawn_at is not None, "updated_at": now}
        doc = describe(row.record or {}, fallback_title=row.title or "")
        if row.id in pages:
            doc.add_text("\n".join(text for _, _, text in pages[row.id]))
        described.append(doc)
        documents.append(((row.id, AIP_DOCUMENT, None), {
            **reader, "kind": AIP_DOCUMENT, "work_key": _work_key(row.record, f"aip:{row.id}"),
            **doc.row()}, doc))
        # Page documents carry no facets and no toned words: they only say where in a
        # found AIP its words are.
        for number, path, text in pages.get(row.id, []):
            page = DocumentText()
            page.add_text(text)
            page.exact = ""
            documents.append(((row.id, PAGE_DOCUMENT, number), {
                **reader, "kind": PAGE_DOCUMENT, "page": number, "ref": path[:500],
                **page.row()}, page))
    _store(connection, documents, indexed)
    _write_words(connection, described)
    return len(rows)


def _facet_value_ids(connection, documents: list[DocumentText]) -> dict[tuple[str, str], int]:
    """The id of every facet value of ``documents``, new values added."""
    wanted = set().union(*(doc.facets for doc in documents))
    if not wanted:
        return {}
    table = SearchFacetValue.__table__
    connection.execute(_insert_ignoring_duplicates(connection.dialect.name, table),
                       [{"facet": f, "value": v} for f, v in sorted(wanted)])
    facets = {f for f, _ in wanted}
    return {(f, v): i for i, f, v in connection.execute(
        select(table.c.id, table.c.facet, table.c.value).where(table.c.facet.in_(facets)))
            if (f, v) in wanted}


def _filters(doc: DocumentText, facet_ids: list[int], collection_id: int | None) -> str:
    """The tokens a search narrows by (schema.FILTERS_COLUMN): facet values, collection,
    and whether the date spans more decades than it is listed under."""
    from repository.search.schema import LONG_SPAN_TOKEN, collection_token, facet_token
    tokens = [facet_token(i) for i in facet_ids]
    if collection_id is not None:
        tokens.append(collection_token(collection_id))
    if doc.long_span:
        tokens.append(LONG_SPAN_TOKEN)
    return " ".join(tokens)


def _text_hash(doc: DocumentText, filters: str) -> int:
    """64 bits of what the full-text index holds for ``doc``, as a signed integer."""
    digest = hashlib.blake2b(digest_size=8)
    for part in (doc.title, doc.creator, doc.subject, doc.body, doc.exact, filters):
        digest.update(part.encode("utf-8") + b"\x1f")
    return int.from_bytes(digest.digest(), "big", signed=True)


def _store(connection, documents: list[tuple[tuple, dict, DocumentText]],
           indexed: dict[tuple, tuple[int, int | None]]) -> None:
    """Bring search_documents and the index to ``documents`` ((key, columns, text) each).

    A document already indexed (``indexed``: key → (id, text hash)) with the same text
    keeps its id and index entries and has only its columns rewritten (access, embargo,
    collection …); one whose text changed is deleted and written anew, as is every
    document of ``indexed`` that ``documents`` no longer has."""
    ids = _facet_value_ids(connection, [doc for _, _, doc in documents])
    kept, fresh = [], []
    for key, columns, doc in documents:
        facet_ids = sorted(ids[f] for f in doc.facets)
        # A page document is only asked which pages of a found AIP hold the words.
        filters = (_filters(doc, facet_ids, columns.get("collection_id"))
                   if key[1] != PAGE_DOCUMENT else "")
        columns = {**columns, "facet_values": facet_ids if key[1] != PAGE_DOCUMENT else None,
                   "text_hash": _text_hash(doc, filters)}
        old = indexed.get(key)
        if old is not None and old[1] == columns["text_hash"]:
            kept.append({**columns, "document_id": old[0]})
            del indexed[key]
        else:  # an old version, if any, is left in ``indexed``: deleted below
            fresh.append((columns, doc, filters))
    stale = [document_id for document_id, _ in indexed.values()]
    _unindex_fresh(connection, stale)
    for start in range(0, len(stale), BATCH):
        connection.execute(delete(SearchDocument).where(
            SearchDocument.id.in_(stale[start:start + BATCH])))
    if kept:
        table = SearchDocument.__table__
        names = sorted(set().union(*kept) - {"document_id"})
        connection.execute(table.update().where(table.c.id == bindparam("document_id"))
                           .values({name: bindparam(f"new_{name}") for name in names}),
                           [{"document_id": row["document_id"],
                             **{f"new_{name}": row.get(name, _DEFAULTS[name]) for name in names}}
                            for row in kept])
    for start in range(0, len(fresh), BATCH):
        _insert_documents(connection, fresh[start:start + BATCH])


_DEFAULTS = {c.name: None for c in SearchDocument.__table__.columns if c.name != "id"}


def _insert_documents(connection, documents: list[tuple[dict, DocumentText, str]]) -> None:
    """Insert search documents ((columns, text, filter tokens) each) and index them: on
    SQLite in the two full-text tables, under the ids the rows got; on PostgreSQL in the
    row's search vector, computed here from the text and the filter tokens."""
    if not documents:
        return
    rows = [{**_DEFAULTS, "withdrawn": False, **columns} for columns, _, _ in documents]
    if connection.dialect.name != "postgresql":
        from repository.search.schema import FTS_INSERT, MARKS_TABLE
        table = SearchDocument.__table__
        ids = connection.execute(table.insert().returning(table.c.id,
                                                          sort_by_parameter_order=True),
                                 rows).scalars().all()
        texts = [(i, doc.title, doc.creator, doc.subject, doc.body, filters)
                 for i, (_, doc, filters) in zip(ids, documents)]
        connection.exec_driver_sql(FTS_INSERT, texts)
        marks = [(i, doc.exact) for i, (_, doc, _) in zip(ids, documents)]
        fresh = _fresh_entries(connection)
        for text, mark in zip(texts, marks):
            # Past the bound (a rebuild, which writes each document once) no more are
            # held; an id held already (given again after a savepoint's rollback) is
            # always brought up to date, or a later 'delete' would corrupt the index.
            if text[0] in fresh or len(fresh) < FRESH_MAX:
                fresh[text[0]] = (text[1:], mark[1])
        marks = [mark for mark in marks if mark[1]]
        if marks:
            connection.exec_driver_sql(
                f"INSERT INTO {MARKS_TABLE}(rowid, marks) VALUES (?, ?)", marks)
        return
    from repository.search.schema import EXACT_MARK, POSTGRES_VECTOR, postgres_keys
    columns = list(_DEFAULTS)
    values = [f"CAST(:{c} AS integer[])" if c == "facet_values" else f":{c}" for c in columns]
    statement = sql_text(
        f"INSERT INTO search_documents ({', '.join(columns)}, search_vector) VALUES "
        f"({', '.join(values)}, {POSTGRES_VECTOR})")
    parameters = []
    for row, (_, doc, filters) in zip(rows, documents):
        fields = {name: getattr(doc, name) for name in _TEXT}
        parameters.append({**row, **{f"v_{name}": text for name, text in fields.items()},
                           "v_marked": [EXACT_MARK + word for word in doc.exact.split()]
                           + postgres_keys(fields, filters)})
    connection.execute(statement, parameters)


_TEXT = ("title", "creator", "subject", "body")
_FRESH = "kho_search_fresh_entries"
# Texts held per transaction for that: a few MB. A rebuild of a million documents writes
# each once and must not hold them all.
FRESH_MAX = 5000


def _fresh_entries(connection) -> dict[int, tuple[tuple[str, ...], str]]:
    """SQLite: the full-text values this transaction wrote, by document id (fields, marks).

    A contentless FTS5 table forgets a document only when given the values it indexed
    (SQLite 3.40), which Kho does not keep; but those written in the same transaction are
    known. An ingest indexes its AIP when the AIP row is flushed and again with its
    description a flush later: without this, every ingest left an entry behind."""
    transaction = connection.get_transaction()
    held = connection.info.get(_FRESH)
    if held is None or held[0] is not transaction:  # another transaction's: gone with it
        held = connection.info[_FRESH] = (transaction, {})
    return held[1]


def _unindex_fresh(connection, document_ids: Iterable[int]) -> None:
    """Take out of the full-text tables those of these documents this transaction wrote."""
    if connection.dialect.name == "postgresql":
        return  # the vector is in the row: it goes with it
    fresh = _fresh_entries(connection)
    known = [(i, fresh.pop(i)) for i in document_ids if i in fresh]
    if not known:
        return
    from repository.search.schema import FTS_DELETE, MARKS_TABLE
    connection.exec_driver_sql(FTS_DELETE, [(i, *fields) for i, (fields, _) in known])
    marks = [(i, mark) for i, (_, mark) in known if mark]
    if marks:
        connection.exec_driver_sql(
            f"INSERT INTO {MARKS_TABLE}({MARKS_TABLE}, rowid, marks) VALUES ('delete', ?, ?)",
            marks)


def _write_words(connection, documents: Iterable[DocumentText]) -> None:
    words = set().union(*(doc.words() for doc in documents))
    words = [{"word": w} for w in sorted({w[:MAX_WORD] for w in words})]
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
        indexed = {(r, UNION_DOCUMENT, None): (i, h) for r, i, h in connection.execute(
            select(SearchDocument.union_record_id, SearchDocument.id, SearchDocument.text_hash)
            .where(SearchDocument.union_record_id.in_(batch)))}
        rows = connection.execute(
            select(UnionRecord.id, UnionRecord.record, UnionRecord.title)
            .where(UnionRecord.id.in_(batch), UnionRecord.deleted.is_(False))).all()
        now = utcnow()
        # Harvested descriptions are public: no access, no collection of Kho's.
        documents = [((record_id, UNION_DOCUMENT, None), {
                          "union_record_id": record_id, "kind": UNION_DOCUMENT,
                          "updated_at": now, "work_key": _work_key(record, f"union:{record_id}"),
                          **doc.row()}, doc)
                     for record_id, record, title in rows
                     for doc in (describe(record or {}, fallback_title=title or ""),)]
        _store(connection, documents, indexed)
        _write_words(connection, [doc for _, _, doc in documents])
        written += len(documents)
    return written


def drop_aip(session: Session, aip_id: int) -> None:
    """Take an AIP out of search (withdrawal): its documents of every kind, now (on SQLite
    their words stay in the full-text tables, where no search reaches them, unless this
    transaction wrote them)."""
    dropped = session.execute(delete(SearchDocument).where(SearchDocument.aip_id == aip_id)
                              .returning(SearchDocument.id)).scalars().all()
    _unindex_fresh(session.connection(), dropped)


def reindex(session: Session, progress=None) -> int:
    """Rebuild the whole index: every AIP's documents and every live harvested record's;
    how many AIPs were indexed (``count_union_documents`` tells the rest)."""
    session.execute(delete(SearchDocument))
    session.execute(delete(SearchWord))
    sqlite = session.get_bind().dialect.name == "sqlite"
    if sqlite:
        # Contentless tables: the words of deleted documents go only with everything.
        from repository.search.schema import FTS_TABLE, MARKS_TABLE
        for table in (FTS_TABLE, MARKS_TABLE):
            session.execute(sql_text(f"INSERT INTO {table}({table}) VALUES ('delete-all')"))
        _fresh_entries(session.connection()).clear()
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
    if sqlite:
        # Written in batches, FTS5 holds many segments until merges catch up; one merge
        # now (under a second at 100,000 records) leaves the index as small as it gets.
        for table in (FTS_TABLE, MARKS_TABLE):
            session.execute(sql_text(f"INSERT INTO {table}({table}) VALUES ('optimize')"))
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
