"""OAI-PMH: withdrawal of AIPs, harvest datestamps, collections' setSpecs.

Revision ID: 0005_oai_union
Revises: 0004
Create Date: 2026-11-25
"""
from datetime import datetime, time, timezone
import re
import unicodedata
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0005_oai_union"
down_revision: Union[str, Sequence[str], None] = "0004"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _fold(name: str) -> str:
    # The migration keeps its own copy of the slug rule: later code may change, this may not.
    text = unicodedata.normalize("NFKD", name.casefold().replace("đ", "d"))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:180] or "collection"


def _lift(level, until):
    if level != "embargoed" or until is None:
        return None
    if isinstance(until, str):
        until = datetime.fromisoformat(until).date()
    return datetime.combine(until, time(0, 0), tzinfo=timezone.utc)


def _utc(moment):
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def upgrade() -> None:
    with op.batch_alter_table("aips", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("withdrawal_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("oai_datestamp", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_aips_oai_datestamp_identifier",
                              ["oai_datestamp", "identifier"], unique=False)
    with op.batch_alter_table("collections", schema=None) as batch_op:
        batch_op.add_column(sa.Column("set_spec", sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint("uq_collections_set_spec", ["set_spec"])
    bind = op.get_bind()
    collections = {}
    taken: set[str] = set()
    for cid, name, level, until in bind.execute(sa.text(
            "SELECT id, name, access, embargo_until FROM collections ORDER BY id")):
        base, n = _fold(name), 1
        spec = base
        while spec in taken:
            n += 1
            spec = f"{base}-{n}"
        taken.add(spec)
        collections[cid] = _lift(level, until)
        bind.execute(sa.text("UPDATE collections SET set_spec = :s WHERE id = :i"),
                     {"s": spec, "i": cid})
    for aid, cid, level, until, updated in bind.execute(sa.text(
            "SELECT id, collection_id, access, embargo_until, updated_at FROM aips")).all():
        moments = [m for m in (_utc(updated), _lift(level, until), collections.get(cid)) if m]
        bind.execute(sa.text("UPDATE aips SET oai_datestamp = :d WHERE id = :i"),
                     {"d": max(moments).replace(microsecond=0), "i": aid})


def downgrade() -> None:
    with op.batch_alter_table("collections", schema=None) as batch_op:
        batch_op.drop_constraint("uq_collections_set_spec", type_="unique")
        batch_op.drop_column("set_spec")
    with op.batch_alter_table("aips", schema=None) as batch_op:
        batch_op.drop_index("ix_aips_oai_datestamp_identifier")
        batch_op.drop_column("oai_datestamp")
        batch_op.drop_column("withdrawal_reason")
        batch_op.drop_column("withdrawn_at")
