"""Harvested records in Kho's search: union documents, and the work each document describes.

The search tables hold only what can be rebuilt from the catalogue, so they are made again
with the new columns rather than altered: SQLite cannot add a named foreign key to a table,
and copying search_documents under its FTS5 triggers would be slower than indexing afresh.

Revision ID: 0011_union_search
Revises: 0010_search
Create Date: 2026-12-02
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0011_union_search"
down_revision: Union[str, Sequence[str], None] = "0010_search"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _drop_search_tables() -> None:
    from repository.search.schema import drop_backend_objects
    drop_backend_objects(op.get_bind())
    op.drop_index("ix_search_facets_facet_value", table_name="search_facets")
    op.drop_table("search_facets")
    op.drop_table("search_documents")  # its indexes go with it
    op.execute("DELETE FROM search_words")


def _create_search_tables(union: bool) -> None:
    columns = [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("aip_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("ref", sa.String(length=500), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("creator", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("exact", sa.Text(), nullable=False),
        sa.Column("year_from", sa.Integer(), nullable=True),
        sa.Column("year_to", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["aip_id"], ["aips.id"], ondelete="CASCADE",
                                name=op.f("fk_search_documents_aip_id_aips")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_documents")),
    ]
    if union:
        columns[5:5] = [sa.Column("union_record_id", sa.Integer(), nullable=True),
                        sa.Column("work_key", sa.String(length=500), nullable=True)]
        columns.append(sa.ForeignKeyConstraint(
            ["union_record_id"], ["union_records.id"], ondelete="CASCADE",
            name=op.f("fk_search_documents_union_record_id_union_records")))
    op.create_table("search_documents", *columns)
    op.create_index("ix_search_documents_aip_kind", "search_documents", ["aip_id", "kind"])
    if union:
        op.create_index("ix_search_documents_work_key", "search_documents", ["work_key"])
        op.create_index("ix_search_documents_union_record_id", "search_documents",
                        ["union_record_id"])
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
    from repository.search.schema import create_backend_objects
    create_backend_objects(op.get_bind())


def upgrade() -> None:
    _drop_search_tables()
    _create_search_tables(union=True)
    # The index is built by 0014_search_speed, once search_documents has every column
    # today's indexing code writes.


def downgrade() -> None:
    # The index is left empty: an upgrade builds it again.
    _drop_search_tables()
    _create_search_tables(union=False)
