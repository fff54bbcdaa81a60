"""The text of pages (OCR and transcriptions) and OCR runs (repository/text).

Revision ID: 0009_page_text
Revises: 0008_web_sign_in
Create Date: 2026-11-25
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0009_page_text"
down_revision: Union[str, Sequence[str], None] = "0008_web_sign_in"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "page_texts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("aip_id", sa.Integer(), nullable=False),
        sa.Column("image_sha512", sa.String(length=128), nullable=False),
        sa.Column("page_path", sa.String(length=1000), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=35), nullable=False),
        sa.Column("origin", sa.String(length=1000), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("folded", sa.Text(), nullable=False),
        sa.Column("words", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["aip_id"], ["aips.id"], name=op.f("fk_page_texts_aip_id_aips"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_page_texts")),
        sa.UniqueConstraint("aip_id", "image_sha512", "source", "language",
                            name=op.f("uq_page_texts_aip_id_image_sha512_source_language")),
    )
    op.create_index("ix_page_texts_aip_id_updated_at", "page_texts", ["aip_id", "updated_at"],
                    unique=False)
    op.create_table(
        "ocr_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("aip_id", sa.Integer(), nullable=False),
        sa.Column("aip_identifier", sa.String(length=64), nullable=False),
        sa.Column("languages", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("pages_total", sa.Integer(), nullable=False),
        sa.Column("pages_done", sa.Integer(), nullable=False),
        sa.Column("pages_failed", sa.Integer(), nullable=False),
        sa.Column("failures", sa.JSON(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["aip_id"], ["aips.id"], name=op.f("fk_ocr_jobs_aip_id_aips"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocr_jobs")),
    )
    op.create_index(op.f("ix_ocr_jobs_aip_id"), "ocr_jobs", ["aip_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_ocr_jobs_aip_id"), table_name="ocr_jobs")
    op.drop_table("ocr_jobs")
    op.drop_index("ix_page_texts_aip_id_updated_at", table_name="page_texts")
    op.drop_table("page_texts")
