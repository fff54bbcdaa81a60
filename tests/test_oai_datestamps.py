"""Harvest datestamps and setSpecs kept by the catalogue on every write."""
from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select

from repository.catalog import Aip, Collection, get_or_create_collection
from repository.catalog.datestamps import as_utc


def _aip(session, collection, n: int, **fields) -> Aip:
    aip = Aip(identifier=f"aip-{n}", ocfl_id=f"urn:uuid:aip-{n}", collection=collection,
              location="local", object_root=f"r{n}", payload_digest="", **fields)
    session.add(aip)
    session.flush()
    return aip


def test_an_embargo_end_and_a_collection_access_change_move_the_datestamp(catalog):
    lift = date.today() + timedelta(days=30)
    with catalog.session() as session:
        collection = get_or_create_collection(session, "Địa bạ")
        plain = _aip(session, collection, 1)
        embargoed = _aip(session, collection, 2, access="embargoed", embargo_until=lift)
        assert plain.oai_datestamp.microsecond == 0
        assert as_utc(embargoed.oai_datestamp) == datetime.combine(lift, datetime.min.time(),
                                                                   timezone.utc)
        before = as_utc(plain.oai_datestamp)
    time.sleep(1.1)  # datestamps are whole seconds
    later = datetime.now(timezone.utc) + timedelta(seconds=2)
    with catalog.session() as session:
        collection = session.scalar(select(Collection).where(Collection.name == "Địa bạ"))
        collection.access = "restricted"
    with catalog.session() as session:
        stamps = {a.identifier: as_utc(a.oai_datestamp) for a in session.scalars(select(Aip))}
    assert before < stamps["aip-1"] <= later  # the collection's change, now
    assert stamps["aip-2"] == datetime.combine(lift, datetime.min.time(), timezone.utc)


def test_collections_get_stable_distinct_ascii_set_specs(catalog):
    with catalog.session() as session:
        specs = [get_or_create_collection(session, name).set_spec
                 for name in ("Địa bạ", "Địa bà", "Hán-Nôm", "Ảnh tư liệu 1945")]
    assert specs == ["dia-ba", "dia-ba-2", "han-nom", "anh-tu-lieu-1945"]
    with catalog.session() as session:
        collection = session.scalar(select(Collection).where(Collection.name == "Địa bạ"))
        collection.title = "Sổ địa bạ triều Nguyễn"
    with catalog.session() as session:
        assert session.scalar(select(Collection.set_spec).where(
            Collection.name == "Địa bạ")) == "dia-ba"


def test_a_dublin_core_edit_a_new_version_and_an_access_change_each_move_the_datestamp(
        ingest_bag, tmp_path):
    """Each change reaches an incremental harvest made from just before it (OAI-PMH §2.7.1)."""
    import xml.etree.ElementTree as ET

    from repository.access.oai import validate_response
    from repository.ingest.amend import amend_aip
    from repository.web import create_app
    from tests.fixtures.aips import dublin_core, make_page_bag

    settings, catalog = ingest_bag.settings, ingest_bag.catalog
    identifier = ingest_bag(make_page_bag(tmp_path / "a", pages=1, external_id="A")).identifier
    app = create_app(settings)
    client = app.test_client()
    oai = "{http://www.openarchives.org/OAI/2.0/}"

    def harvested_since(moment: datetime) -> dict[str, str]:
        body = client.get("/oai", query_string={
            "verb": "ListIdentifiers", "metadataPrefix": "oai_dc",
            "from": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}).get_data()
        assert not validate_response(body)
        return {h.findtext(f"{oai}identifier").rsplit(":", 1)[1]: h.findtext(f"{oai}datestamp")
                for h in ET.fromstring(body).iter(f"{oai}header")}

    changes = {
        "Dublin Core edit": lambda: amend_aip(
            settings, catalog, identifier, agent="test",
            dublin_core={**dublin_core(), "title": [{"value": "Địa bạ Quảng Trị", "lang": "vi"}]}),
        "new version": lambda: ingest_bag(make_page_bag(
            tmp_path / "a2", pages=1, title="Hương ước làng Đông Ngạc", external_id="A"),
            new_version=True),
        "access change": lambda: amend_aip(settings, catalog, identifier, agent="test",
                                           access="restricted"),
    }
    try:
        for change, make in changes.items():
            time.sleep(1.1)  # datestamps are whole seconds and `from` is inclusive
            since = datetime.now(timezone.utc).replace(microsecond=0)
            assert harvested_since(since) == {}, change
            make()
            with catalog.session() as session:
                stored = as_utc(session.scalar(select(Aip.oai_datestamp).where(
                    Aip.identifier == identifier)))
            assert stored >= since, change
            assert harvested_since(since) == {identifier: stored.strftime("%Y-%m-%dT%H:%M:%SZ")}, \
                change
    finally:
        app.extensions["kho"].catalog.dispose()
