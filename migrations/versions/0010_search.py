"""The search index: documents, facet values, the word list, and each backend's own index.

Revision ID: 0010_search
Revises: 0009_page_text
Create Date: 2026-11-25
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0010_search"
down_revision: Union[str, Sequence[str], None] = "0009_page_text"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "search_documents",
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
    )
    op.create_index("ix_search_documents_aip_kind", "search_documents", ["aip_id", "kind"])
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
    op.create_table(
        "search_words",
        sa.Column("word", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("word", name=op.f("pk_search_words")),
    )
    from repository.search.schema import create_backend_objects
    bind = op.get_bind()
    create_backend_objects(bind)
    # A catalogue that already holds AIPs becomes searchable on upgrade: 0011 indexes it,
    # once search_documents has every column today's indexing code writes.


def downgrade() -> None:
    from repository.search.schema import drop_backend_objects
    drop_backend_objects(op.get_bind())
    op.drop_table("search_words")
    op.drop_index("ix_search_facets_facet_value", table_name="search_facets")
    op.drop_table("search_facets")
    op.drop_index("ix_search_documents_aip_kind", table_name="search_documents")
    op.drop_table("search_documents")
