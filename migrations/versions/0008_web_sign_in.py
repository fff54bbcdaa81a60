"""Users sign in to the web interface with a password: its hash, failed attempts, lock-out,
and a session version that ends every browser session when bumped.

Revision ID: 0008_web_sign_in
Revises: 0007_holdings
Create Date: 2026-11-25
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0008_web_sign_in"
down_revision: Union[str, Sequence[str], None] = "0007_holdings"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_hash", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("failed_sign_ins", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("session_version", sa.Integer(), nullable=False,
                                      server_default="0"))
        batch_op.add_column(sa.Column("last_sign_in", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        for column in ("last_sign_in", "session_version", "locked_until", "failed_sign_ins",
                       "password_hash"):
            batch_op.drop_column(column)
