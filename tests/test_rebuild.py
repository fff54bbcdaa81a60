"""`kho catalog rebuild`: the catalogue comes back from storage alone."""
from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from repository.catalog import (Aip, AipFile, AipVersion, Collection, DublinCoreRecord,
                                PremisEvent, open_catalog, verify_chain)
from repository.cli import kho
from tests.fixtures.aips import make_page_bag


def snapshot(catalog) -> dict:
    """Every catalogue row that matters, keyed by what identifies it (not by database ids)."""
    with catalog.session() as session:
        aips = {a.identifier: (a.ocfl_id, a.collection.name, a.location, a.object_root,
                               a.current_version, a.external_identifier, a.payload_digest,
                               a.access, a.embargo_until, a.total_size, a.file_count)
                for a in session.scalars(select(Aip))}
        versions = {(v.aip.identifier, v.number): (v.message,)
                    for v in session.scalars(select(AipVersion))}
        files = {(f.aip.identifier, f.version, f.logical_path):
                 (f.content_path, f.size, f.sha512, f.digests, f.pronom_id, f.format_name,
                  f.mime_type, f.width, f.height, f.role)
                 for f in session.scalars(select(AipFile))}
        records = {r.aip.identifier: (r.record, r.title, r.search_text)
                   for r in session.scalars(select(DublinCoreRecord))}
        events = sorted((e.identifier, e.aip_identifier, e.event_type, e.outcome, e.detail)
                        for e in session.scalars(select(PremisEvent)))
        collections = sorted(c.name for c in session.scalars(select(Collection)))
    return {"aips": aips, "versions": versions, "files": files, "records": records,
            "events": events, "collections": collections}


def test_rebuild_recreates_every_row_from_local_and_s3_storage(
        ingest_bag, s3_location, tmp_path):
    ingest_bag(make_page_bag(tmp_path / "a", pages=2, external_id="A"))
    ingest_bag(make_page_bag(tmp_path / "a2", pages=3, external_id="A"), new_version=True)
    ingest_bag(make_page_bag(tmp_path / "b", pages=1, title="Báo Huế", external_id="B"),
               collection="Báo chí", access="restricted")
    ingest_bag(make_page_bag(tmp_path / "c", pages=1, title="Sắc phong", external_id="C"),
               collection="Sắc phong", location="s3", access="embargoed:2031-01-01")
    before = snapshot(ingest_bag.catalog)
    assert len(before["aips"]) == 3

    settings = ingest_bag.settings
    empty_url = f"sqlite:///{tmp_path / 'rebuilt.sqlite3'}"
    env = {"KHO_DATA_DIR": str(settings.data_dir),
           "KHO_STORAGE_CONFIG": str(settings.storage_config_dir),
           "KHO_DATABASE_URL": empty_url}
    result = CliRunner().invoke(kho, ["catalog", "rebuild"], env=env)
    assert result.exit_code == 0, result.output
    assert "rebuilt 3 AIPs" in result.output

    rebuilt = open_catalog(empty_url)
    after = snapshot(rebuilt)
    for part in before:
        assert after[part] == before[part], part
    with rebuilt.session() as session:
        assert verify_chain(session).ok
    again = CliRunner().invoke(kho, ["catalog", "rebuild"], env=env)
    assert again.exit_code == 1 and "already holds 3 AIPs" in again.output
    rebuilt.dispose()
