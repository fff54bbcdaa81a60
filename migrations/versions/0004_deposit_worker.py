"""Deposits remember the server process carrying them, so a restart fails only its own.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: Union[str, Sequence[str], None] = "0003"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("deposits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("worker", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deposits", schema=None) as batch_op:
        batch_op.drop_column("worker")
