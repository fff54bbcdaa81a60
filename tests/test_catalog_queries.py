"""Finding AIPs: pages, one by identifier, collections, accent-insensitive search."""
from __future__ import annotations

import pytest

from repository.catalog import (Aip, DublinCoreRecord, get_aip, get_or_create_collection,
                                list_aips, list_collections, search_aips)
from repository.errors import NotFound
from repository.metadata import fold_for_search


def _add_aip(session, identifier: str, collection: str, title: str) -> Aip:
    aip = Aip(identifier=identifier, ocfl_id=f"urn:kho:{identifier}",
              collection=get_or_create_collection(session, collection), location="local",
              object_root=identifier, payload_digest="0" * 64)
    aip.dublin_core = DublinCoreRecord(record={"title": [title]}, title=title,
                                       search_text=fold_for_search(title))
    session.add(aip)
    session.flush()
    return aip


def test_collection_is_created_once_under_its_nfc_name(catalog):
    with catalog.session() as session:
        first = get_or_create_collection(session, "Ha\u0300 No\u0323\u0302i")  # NFD as typed on a Mac
        again = get_or_create_collection(session, "Hà Nội")
        assert first.id == again.id and first.name == "Hà Nội"
        get_or_create_collection(session, "Châu bản")
        assert [c.name for c in list_collections(session)] == ["Châu bản", "Hà Nội"]


def test_aips_come_in_pages_and_by_collection(catalog):
    with catalog.session() as session:
        for i in range(5):
            _add_aip(session, f"aip-{i}", "Hà Nội" if i % 2 else "Huế", f"Sổ {i}")
    with catalog.session() as session:
        page = list_aips(session, per_page=2)
        assert page.total == 5 and page.pages == 3 and len(page) == 2 and page.has_next
        last = list_aips(session, page=3, per_page=2)
        assert len(last.items) == 1 and not last.has_next
        seen = {a.identifier for p in (1, 2, 3) for a in list_aips(session, page=p, per_page=2)}
        assert seen == {f"aip-{i}" for i in range(5)}
        hanoi = list_aips(session, collection="Hà Nội")
        assert sorted(a.identifier for a in hanoi) == ["aip-1", "aip-3"]
        with pytest.raises(NotFound):
            list_aips(session, collection="Sài Gòn")


def test_get_aip_by_identifier_or_not_found(catalog):
    with catalog.session() as session:
        _add_aip(session, "aip-x", "Huế", "Mộc bản")
    with catalog.session() as session:
        assert get_aip(session, "aip-x").dublin_core.title == "Mộc bản"
        with pytest.raises(NotFound):
            get_aip(session, "aip-y")


def test_search_finds_vietnamese_titles_with_or_without_accents(catalog):
    with catalog.session() as session:
        _add_aip(session, "a1", "c", "Địa bạ làng Hà Nội")
        _add_aip(session, "a2", "c", "Bản đồ Huế 1909")
        _add_aip(session, "a3", "c", "Hương ước 100% làng")
    with catalog.session() as session:
        for query in ("ha noi", "HÀ NỘI", "Ha\u0300 No\u0323\u0302i", "dia ba"):
            assert [a.identifier for a in search_aips(session, query)] == ["a1"], query
        assert [a.identifier for a in search_aips(session, "đồ hue")] == ["a2"]
        assert search_aips(session, "hà nội huế").total == 0  # every word must match
        assert [a.identifier for a in search_aips(session, "100%")] == ["a3"]
        assert search_aips(session, "%").total == 1  # a percent sign is text, not a wildcard
