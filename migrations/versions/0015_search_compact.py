"""A smaller search index (issue 11: at most 2× the Dublin Core it indexes): the folded text
lives only in the full-text index (contentless FTS5 tables on SQLite; the search vector on
PostgreSQL), a document lists the ids of its facet values instead of a row per value, and
collection and access are counted from the document's own columns. The index is rebuilt.

Revision ID: 0015_search_compact
Revises: 0014_search_speed
Create Date: 2026-12-06
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015_search_compact"
down_revision: Union[str, Sequence[str], None] = "0014_search_speed"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_TEXT = ("creator", "subject", "body", "exact")


def _documents_table(compact: bool) -> None:
    """search_documents on SQLite, as 0015 (``compact``) or 0014 left it; empty."""
    columns = [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("aip_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("ref", sa.String(length=500), nullable=True),
        sa.Column("union_record_id", sa.Integer(), nullable=True),
        sa.Column("work_key", sa.String(length=500), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        *([sa.Column("text_hash", sa.BigInteger(), nullable=True),
           sa.Column("facet_values", sa.JSON(), nullable=True)] if compact else
          [sa.Column(name, sa.Text(), nullable=False) for name in _TEXT]),
        sa.Column("year_from", sa.Integer(), nullable=True),
        sa.Column("year_to", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("access", sa.String(length=20), nullable=True),
        sa.Column("embargo_until", sa.Date(), nullable=True),
        sa.Column("collection_id", sa.Integer(), nullable=True),
        sa.Column("withdrawn", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.ForeignKeyConstraint(["aip_id"], ["aips.id"], ondelete="CASCADE",
                                name=op.f("fk_search_documents_aip_id_aips")),
        sa.ForeignKeyConstraint(["union_record_id"], ["union_records.id"], ondelete="CASCADE",
                                name=op.f("fk_search_documents_union_record_id_union_records")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_documents")),
    ]
    # AUTOINCREMENT: an id is never given again, so words a contentless table still holds
    # for a deleted document can never be taken for a new one's.
    op.create_table("search_documents", *columns, sqlite_autoincrement=compact)
    op.create_index("ix_search_documents_aip_kind", "search_documents", ["aip_id", "kind"])
    op.create_index("ix_search_documents_work_key", "search_documents", ["work_key"])
    op.create_index("ix_search_documents_union_record_id", "search_documents",
                    ["union_record_id"])


def _facets_table() -> None:
    op.create_table(
        "search_facets",
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("facet", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["search_documents.id"], ondelete="CASCADE",
                                name=op.f("fk_search_facets_document_id_search_documents")),
        sa.PrimaryKeyConstraint("document_id", "facet", "value", name=op.f("pk_search_facets")),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_search_facets_facet_value", "search_facets",
                    ["facet", "value", "document_id"])


def upgrade() -> None:
    from repository.search.schema import create_index_objects, drop_backend_objects
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        drop_backend_objects(bind)  # the external-content table and its triggers
    op.drop_index("ix_search_facets_facet_value", table_name="search_facets")
    op.drop_table("search_facets")
    op.create_table(
        "search_facet_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("facet", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_facet_values")),
        sa.UniqueConstraint("facet", "value", name="uq_search_facet_values"),
    )
    if sqlite:
        op.drop_table("search_documents")
        _documents_table(compact=True)
    else:
        op.execute("DELETE FROM search_documents")
        for name in _TEXT:
            op.drop_column("search_documents", name)
        op.add_column("search_documents", sa.Column("text_hash", sa.BigInteger(), nullable=True))
        op.add_column("search_documents", sa.Column(
            "facet_values", postgresql.ARRAY(sa.Integer()), nullable=True))
    create_index_objects(bind)
    # Every AIP and every harvested record, written as today's code writes them (a
    # catalogue upgraded from before 0010 gets its first index here).
    from sqlalchemy.orm import Session
    from repository.search.upkeep import reindex
    reindex(Session(bind=bind))


def downgrade() -> None:
    # The index is left empty: run `kho search reindex` with the older Kho.
    from repository.search.schema import create_backend_objects, drop_index_objects
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    drop_index_objects(bind)
    op.drop_table("search_facet_values")
    if sqlite:
        op.drop_table("search_documents")
        _documents_table(compact=False)
    else:
        op.execute("DELETE FROM search_documents")
        op.drop_column("search_documents", "facet_values")
        op.drop_column("search_documents", "text_hash")
        for name in _TEXT:
            op.add_column("search_documents", sa.Column(name, sa.Text(), nullable=False))
    _facets_table()
    op.execute("DELETE FROM search_words")
    if sqlite:
        create_backend_objects(bind)
