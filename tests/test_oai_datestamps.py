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
