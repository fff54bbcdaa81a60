"""Deposits: submissions received over HTTP and their status.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 19:26:30.056809

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = '0002'
down_revision: Union[str, Sequence[str], None] = '0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('deposits',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('identifier', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=1000), nullable=False),
    sa.Column('collection', sa.String(length=200), nullable=False),
    sa.Column('access', sa.String(length=40), nullable=True),
    sa.Column('location', sa.String(length=100), nullable=True),
    sa.Column('new_version', sa.Boolean(), nullable=False),
    sa.Column('depositor', sa.String(length=200), nullable=False),
    sa.Column('aip_identifier', sa.String(length=64), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_deposits')),
    sa.UniqueConstraint('identifier', name=op.f('uq_deposits_identifier'))
    )


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('deposits')
