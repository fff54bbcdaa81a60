"""Deposits say how far their ingest has gone (a percentage a depositor's page follows).

Revision ID: 0012_deposit_progress
Revises: 0011_union_search
Create Date: 2026-12-02
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0012_deposit_progress"
down_revision: Union[str, Sequence[str], None] = "0011_union_search"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("deposits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("percent", sa.Integer(), nullable=False,
                                      server_default="0"))
    # A deposit that ended before progress was kept ended all the same.
    op.execute("UPDATE deposits SET percent = 100 WHERE status IN ('done', 'failed')")


def downgrade() -> None:
    with op.batch_alter_table("deposits", schema=None) as batch_op:
        batch_op.drop_column("percent")
