"""The state of the search index, for the people who keep it: what it holds, its size, and
(SQLite) how much of it belongs to documents that are gone.

SQLite 3.40's contentless FTS5 tables cannot forget a document's words without being given
its text again, which Kho keeps only while the transaction that wrote it lasts (see
upkeep.py): a document re-indexed or withdrawn later leaves its old entries behind,
unreachable, until ``kho search reindex``. They cost disk and every search a little
(longer doclists to read), so this says how many there are and when a rebuild is worth it.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from repository.search.models import SearchDocument
from repository.search.schema import FTS_TABLE

# Left-behind entries worth a rebuild: this share of the full-text index.
REINDEX_ADVISED_SHARE = 0.10


@dataclass
class IndexStatus:
    backend: str                       # "sqlite" or "postgresql"
    documents: dict[str, int]          # by kind: aip, page, union
    left_behind: int                   # full-text entries of documents that are gone
    size_bytes: int | None             # the index's tables and indexes, if the database says

    @property
    def total(self) -> int:
        return sum(self.documents.values())

    @property
    def left_behind_share(self) -> float:
        """Left-behind entries as a share of every full-text entry."""
        entries = self.total + self.left_behind
        return self.left_behind / entries if entries else 0.0

    @property
    def reindex_advised(self) -> bool:
        return self.left_behind_share >= REINDEX_ADVISED_SHARE

    def as_dict(self) -> dict:
        return {"backend": self.backend, "documents": self.documents, "total": self.total,
                "left_behind": self.left_behind,
                "left_behind_share": round(self.left_behind_share, 4),
                "reindex_advised": self.reindex_advised, "size_bytes": self.size_bytes}


def index_status(session: Session) -> IndexStatus:
    """Count the index's documents by kind, its entries left behind, and its size."""
    backend = session.get_bind().dialect.name
    documents = dict(session.execute(
        select(SearchDocument.kind, func.count()).group_by(SearchDocument.kind)
        .order_by(SearchDocument.kind)).all())
    left_behind = 0
    if backend == "sqlite":
        # FTS5 keeps one row per indexed document in its %_docsize table, left-behind
        # ones included (search_fts has column sizes; the marks table has none).
        left_behind = session.scalar(text(
            f"SELECT count(*) FROM {FTS_TABLE}_docsize "
            f"WHERE id NOT IN (SELECT id FROM search_documents)")) or 0
    return IndexStatus(backend, documents, left_behind, _size(session, backend))


def _size(session: Session, backend: str) -> int | None:
    if backend == "postgresql":
        return int(session.scalar(text(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r' "
            "AND c.relname LIKE 'search\\_%'")) or 0)
    try:  # the dbstat virtual table is a compile-time option of SQLite
        return int(session.scalar(text(
            "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'search%' "
            "OR name LIKE 'sqlite_autoindex_search%' OR name LIKE 'ix_search%'")) or 0)
    except OperationalError:  # no dbstat here: the size is simply not known
        return None
