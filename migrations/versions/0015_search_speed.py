"""Search documents carry their AIP's access, embargo, collection and withdrawal, so a
search decides who may read a hit without joining aips (issue 11's speed targets).

Revision ID: 0015_search_speed
Revises: 0012_deposit_progress
Create Date: 2026-12-05
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0015_search_speed"
down_revision: Union[str, Sequence[str], None] = "0012_deposit_progress"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

_COPIED = ("access", "embargo_until", "collection_id")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # The update trigger re-indexed a document's text on any update; from now on only
        # on a change of its text, so the copy below leaves the full-text index alone.
        from repository.search.schema import SQLITE_UPDATE_TRIGGER
        op.execute("DROP TRIGGER IF EXISTS search_documents_au")
        op.execute(SQLITE_UPDATE_TRIGGER)
    op.add_column("search_documents", sa.Column("access", sa.String(length=20), nullable=True))
    op.add_column("search_documents", sa.Column("embargo_until", sa.Date(), nullable=True))
    op.add_column("search_documents", sa.Column("collection_id", sa.Integer(), nullable=True))
    op.add_column("search_documents", sa.Column("withdrawn", sa.Boolean(), nullable=False,
                                                server_default=sa.false()))
    # Copy each AIP's values onto its documents (union documents have no AIP: left null).
    sets = ", ".join(f"{name} = (SELECT aips.{name} FROM aips "
                     f"WHERE aips.id = search_documents.aip_id)" for name in _COPIED)
    op.execute(f"UPDATE search_documents SET {sets}, withdrawn = (SELECT aips.withdrawn_at "
               "IS NOT NULL FROM aips WHERE aips.id = search_documents.aip_id) "
               "WHERE aip_id IS NOT NULL")


def downgrade() -> None:
    # Not batch mode: rebuilding the table on SQLite would drop the full-text triggers;
    # SQLite ≥ 3.35 drops a column in place.
    for name in ("withdrawn", "collection_id", "embargo_until", "access"):
        op.drop_column("search_documents", name)
