"""Every fact in storage: a catalogue rebuilt from storage alone equals the original, row
by row, fixity history and collection access included, and its event log hashes to the
chain head storage recorded (`kho audit verify` passes without --ignore-stored-head)."""
from __future__ import annotations

import io
import json
import secrets
from datetime import date, datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from repository.catalog import open_catalog
from repository.catalog.collection_access import change_collection_access
from repository.catalog.database import load_all_models
from repository.catalog.events import as_utc
from repository.cli import kho
from repository.fixity import check_aips
from repository.ingest.amend import amend_aip, withdraw_aip
from repository.storage import get_location
from tests.fixtures.aips import add_collections, dublin_core, make_page_bag

# Tables that are by nature local to one catalogue, so no storage holds them:
LOCAL_TABLES = {
    "users": "people and their password hashes belong to this installation, not to the AIPs",
    "deposits": "uploads in progress on this server; a finished one is its AIP",
    "fixity_leases": "which process is checking an AIP right now",
    "fixity_location_health": "how a location answered this installation lately",
    "ocr_jobs": "OCR runs are derivative work, re-run from the AIP",
    "page_texts": "OCR text and word boxes are derivatives (KHO_DATA_DIR/derivatives)",
    "union_sources": "harvesting other libraries: re-harvested, never archival storage",
    "union_harvests": "as union_sources", "union_records": "as union_sources",
    "holding_libraries": "the programme's holdings register is imported, not stored in AIPs",
    "holding_collections": "as holding_libraries", "holding_items": "as holding_libraries",
    "holding_status_changes": "as holding_libraries",
    "holding_aip_shelfmarks": "as holding_libraries",
    "search_documents": "the search index is derived from the rows compared here, and says "
                        "when it indexed (updated_at) and in which key order it read the record",
    "search_facet_values": "as search_documents", "search_words": "as search_documents",
}
# Columns by nature local: when this catalogue created a collection row (storage keeps
# what a collection is, not when a database first heard of it).
LOCAL_COLUMNS = {("collections", "created_at")}
# Natural keys standing in for the surrogate integer keys that foreign keys point at.
NATURAL_KEYS = {"aips": "identifier", "collections": "name"}


def _value(value):
    if isinstance(value, datetime):
        return as_utc(value).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (dict, list)):  # a JSON column: its keys' order is no fact
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


def snapshot(catalog) -> dict[str, list[tuple]]:
    """Every row of every table but LOCAL_TABLES, integer keys replaced by natural keys."""
    metadata = load_all_models()
    rows: dict[str, list[tuple]] = {}
    with catalog.engine.connect() as connection:
        natural = {}
        for table, column in NATURAL_KEYS.items():
            t = metadata.tables[table]
            natural[table] = dict(connection.execute(select(t.c.id, t.c[column])).all()) \
                if column in t.c else {}
        checks = metadata.tables["fixity_checks"]
        natural["fixity_checks"] = {
            r.id: (natural["aips"][r.aip_id], _value(r.started_at))
            for r in connection.execute(select(checks))}
        for table in metadata.sorted_tables:
            if table.name in LOCAL_TABLES:
                continue
            out = []
            for row in connection.execute(select(table)).mappings():
                values = []
                for column in table.c:
                    if (table.name, column.name) in LOCAL_COLUMNS:
                        continue
                    value = row[column.name]
                    fks = list(column.foreign_keys)
                    if fks:
                        target = fks[0].column.table.name
                        value = natural.get(target, {}).get(value, ("unmapped", target))
                    elif column.primary_key and column.name == "id":
                        continue  # a surrogate key: which number a row got is no fact
                    values.append((column.name, _value(value)))
                out.append(tuple(values))
            rows[table.name] = sorted(out, key=repr)
    return rows


def differences(before: list[tuple], after: list[tuple]) -> list:
    """The columns that differ, rows matched by their first three columns (for a readable
    failure)."""
    rows = {r[:3]: dict(r) for r in after}
    found = []
    for row in before:
        other = rows.pop(row[:3], None)
        if other is None:
            found.append(("only before", row))
        elif other != dict(row):
            found.append((row[:3], {k: (v, other.get(k)) for k, v in dict(row).items()
                                    if other.get(k) != v}))
    return (found + [("only after", r) for r in rows.values()])[:4]


@pytest.fixture
def empty_catalog_url(catalog_url, tmp_path):
    """A second empty catalogue on the same kind of database as ``catalog_url``."""
    if catalog_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}"
        return
    from tests.fixtures.databases import _admin_connection
    name = f"kho_test_{secrets.token_hex(6)}"
    admin = _admin_connection()
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        info = admin.info
        yield f"postgresql+psycopg://{info.user}@{info.host}:{info.port}/{name}"
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def test_catalogue_rebuilt_from_storage_alone_equals_the_original_and_its_chain_verifies(
        ingest_bag, s3_location, empty_catalog_url, tmp_path):
    settings, catalog = ingest_bag.settings, ingest_bag.catalog
    with catalog.session() as session:  # a collection described as an archivist would
        from repository.catalog.collections import add_collection
        add_collection(session, "Sắc phong", title="Sắc phong triều Nguyễn",
                       description="Sắc phong của các làng ở Thừa Thiên Huế")
    kept = ingest_bag(make_page_bag(tmp_path / "a", pages=2, external_id="A"))
    gone = ingest_bag(make_page_bag(tmp_path / "b", pages=1, external_id="B"))
    news = ingest_bag(make_page_bag(tmp_path / "c", pages=1, title="Báo Huế", external_id="C"),
                      collection="Báo chí")
    embargoed = ingest_bag(make_page_bag(tmp_path / "d", pages=1, title="Sắc phong làng Kim Long",
                                         external_id="D"),
                           collection="Sắc phong", location="s3", access="embargoed:2031-01-01")
    change_collection_access(settings, catalog, "Báo chí", level="restricted",
                             embargo_until=None, agent="thủ thư Lan")
    amend_aip(settings, catalog, kept.identifier, agent="thủ thư Lan",
              dublin_core=dublin_core("Đại Nam thực lục – bản hiệu đính"))
    withdraw_aip(settings, catalog, gone.identifier, agent="thủ thư Lan",
                 reason="trùng với bản đã có")
    identifiers = [kept.identifier, gone.identifier, news.identifier, embargoed.identifier]
    assert not check_aips(settings, catalog, identifiers).failed
    # One byte of one page changes in the local folder: the second run finds it.
    local = get_location(settings, "local")
    page = f"{news.object_root}/v1/content/data/trang 1.jpg"
    with local.open(page) as stream:
        data = stream.read()
    local.put(page, io.BytesIO(bytes([data[0] ^ 0xFF]) + data[1:]), algorithms=())
    second = check_aips(settings, catalog, identifiers)
    assert [c.aip_identifier for c in second.checks if c.outcome == "failure"] == [news.identifier]
    before = snapshot(catalog)
    assert len(before["fixity_checks"]) == 8 and before["fixity_results"]
    assert any(dict(r)["outcome"] == "changed" for r in before["fixity_results"])

    env = {"KHO_DATA_DIR": str(settings.data_dir),
           "KHO_STORAGE_CONFIG": str(settings.storage_config_dir),
           "KHO_DATABASE_URL": empty_catalog_url}
    result = CliRunner().invoke(kho, ["catalog", "rebuild"], env=env)
    assert result.exit_code == 0, result.output
    assert "rebuilt 4 AIPs" in result.output and "8 fixity checks" in result.output
    rebuilt = open_catalog(empty_catalog_url)
    try:
        after = snapshot(rebuilt)
    finally:
        rebuilt.dispose()
    # Storage keeps the files that did not pass, not a row per good file (compact history).
    before["fixity_results"] = [r for r in before["fixity_results"] if dict(r)["outcome"] != "ok"]
    assert set(after) == set(before)
    for table in before:
        assert after[table] == before[table], (table, differences(before[table], after[table]))
    collections = {dict(r)["name"]: dict(r) for r in after["collections"]}
    assert collections["Báo chí"]["access"] == "restricted"
    assert collections["Sắc phong"]["description"] == "Sắc phong của các làng ở Thừa Thiên Huế"
    aips = {dict(r)["identifier"]: dict(r) for r in after["aips"]}
    assert aips[gone.identifier]["withdrawal_reason"] == "trùng với bản đã có"
    assert aips[embargoed.identifier]["embargo_until"] == "2031-01-01"
    assert aips[kept.identifier]["current_version"] == 2

    verify = CliRunner().invoke(kho, ["audit", "verify"], env=env)
    assert verify.exit_code == 0, verify.output
    assert "chain head recorded in storage" in verify.output and "ok:" in verify.output
