"""OAI-PMH: withdrawal of AIPs, harvest datestamps, collections' setSpecs; the union catalogue.

Revision ID: 0006_oai_union
Revises: 0005_collections_tokens
Create Date: 2026-11-25
"""
from datetime import datetime, time, timezone
import re
import unicodedata
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0006_oai_union"
down_revision: Union[str, Sequence[str], None] = "0005_collections_tokens"
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
    with op.batch_alter_table("dublin_core_records", schema=None) as batch_op:
        # Filled on the next write of each record; until then /oai builds it on demand.
        batch_op.add_column(sa.Column("oai_dc", sa.Text(), nullable=True))
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


    _create_union_tables()


def _create_union_tables() -> None:
    op.create_table(
        "union_sources",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("base_url", sa.String(length=1000), nullable=False),
        sa.Column("set_spec", sa.String(length=200), nullable=True),
        sa.Column("metadata_prefix", sa.String(length=100), nullable=False),
        sa.Column("interval_hours", sa.Integer(), nullable=False),
        sa.Column("granularity", sa.String(length=30), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_success_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("harvesting_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_union_sources"),
        sa.UniqueConstraint("name", name="uq_union_sources_name"),
    )
    op.create_table(
        "union_harvests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("from_datestamp", sa.String(length=30), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Integer(), nullable=False),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["union_sources.id"], ondelete="CASCADE",
                                name="fk_union_harvests_source_id_union_sources"),
        sa.PrimaryKeyConstraint("id", name="pk_union_harvests"),
    )
    op.create_index("ix_union_harvests_source_id", "union_harvests", ["source_id"])
    op.create_table(
        "union_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("oai_identifier", sa.String(length=1000), nullable=False),
        sa.Column("datestamp", sa.String(length=30), nullable=False),
        sa.Column("harvested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("set_specs", sa.JSON(), nullable=False),
        sa.Column("raw_xml", sa.Text(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("title", sa.String(length=2000), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("work_key", sa.String(length=500), nullable=False),
        sa.Column("link", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["union_sources.id"], ondelete="CASCADE",
                                name="fk_union_records_source_id_union_sources"),
        sa.PrimaryKeyConstraint("id", name="pk_union_records"),
        sa.UniqueConstraint("source_id", "oai_identifier",
                            name="uq_union_records_source_id_oai_identifier"),
    )
    op.create_index("ix_union_records_source_id", "union_records", ["source_id"])
    op.create_index("ix_union_records_work_key", "union_records", ["work_key"])


def downgrade() -> None:
    with op.batch_alter_table("dublin_core_records", schema=None) as batch_op:
        batch_op.drop_column("oai_dc")
    op.drop_table("union_records")
    op.drop_table("union_harvests")
    op.drop_table("union_sources")
    with op.batch_alter_table("collections", schema=None) as batch_op:
        batch_op.drop_constraint("uq_collections_set_spec", type_="unique")
        batch_op.drop_column("set_spec")
    with op.batch_alter_table("aips", schema=None) as batch_op:
        batch_op.drop_index("ix_aips_oai_datestamp_identifier")
        batch_op.drop_column("oai_datestamp")
        batch_op.drop_column("withdrawal_reason")
        batch_op.drop_column("withdrawn_at")
