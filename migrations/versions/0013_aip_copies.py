"""Each AIP's copies (one row per storage location) and whether each is verified.

Revision ID: 0013_aip_copies
Revises: 0012_deposit_progress
Create Date: 2026-12-05
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0013_aip_copies"
down_revision: Union[str, Sequence[str], None] = "0012_deposit_progress"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "aip_copies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("aip_id", sa.Integer(), nullable=False),
        sa.Column("location", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["aip_id"], ["aips.id"], name="fk_aip_copies_aip_id_aips",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_aip_copies"),
        sa.UniqueConstraint("aip_id", "location", name="uq_aip_copies_aip_id_location"),
    )
    op.create_index("ix_aip_copies_aip_id", "aip_copies", ["aip_id"])


def downgrade() -> None:
    op.drop_index("ix_aip_copies_aip_id", table_name="aip_copies")
    op.drop_table("aip_copies")
