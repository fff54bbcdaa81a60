"""Finding AIPs: pages, one by identifier, collections, accent-insensitive search."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from repository.catalog import (Aip, DublinCoreRecord, Reader, count_readable_aips, get_aip,
                                get_or_create_collection, list_aips, list_collections,
                                search_aips)
from repository.errors import NotFound
from repository.metadata import fold_for_search

TODAY = date(2026, 11, 25)
STAFF = Reader("archivist", TODAY)


def _add_aip(session, identifier: str, collection: str, title: str, access: str = "public",
             embargo_until: date | None = None) -> Aip:
    aip = Aip(identifier=identifier, ocfl_id=f"urn:kho:{identifier}",
              collection=get_or_create_collection(session, collection), location="local",
              object_root=identifier, payload_digest="0" * 64, access=access,
              embargo_until=embargo_until)
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
        page = list_aips(session, STAFF, per_page=2)
        assert page.total == 5 and page.pages == 3 and len(page) == 2 and page.has_next
        last = list_aips(session, STAFF, page=3, per_page=2)
        assert len(last.items) == 1 and not last.has_next
        seen = {a.identifier for p in (1, 2, 3) for a in list_aips(session, STAFF, page=p, per_page=2)}
        assert seen == {f"aip-{i}" for i in range(5)}
        hanoi = list_aips(session, STAFF, collection="Hà Nội")
        assert sorted(a.identifier for a in hanoi) == ["aip-1", "aip-3"]
        with pytest.raises(NotFound):
            list_aips(session, STAFF, collection="Sài Gòn")


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
            assert [a.identifier for a in search_aips(session, STAFF, query)] == ["a1"], query
        assert [a.identifier for a in search_aips(session, STAFF, "đồ hue")] == ["a2"]
        assert search_aips(session, STAFF, "hà nội huế").total == 0  # every word must match
        assert [a.identifier for a in search_aips(session, STAFF, "100%")] == ["a3"]
        # Search matches words: a lone percent sign is no word, and never a wildcard.
        assert search_aips(session, STAFF, "%").total == 0


def _visibility_holdings(session) -> None:
    """Every combination a reader can meet: AIP access × collection access (title says which)."""
    past, future = TODAY - timedelta(days=1), TODAY + timedelta(days=365)
    for collection, c_access, c_until in (("Mở", "public", None), ("Kín", "restricted", None),
                                          ("Cấm", "embargoed", future),
                                          ("Hết cấm", "embargoed", past)):
        for access, until in (("public", None), ("restricted", None), ("embargoed", future),
                              ("embargoed", past)):
            _add_aip(session, f"{collection}/{access}/{until}", collection,
                     f"Sổ bí mật {collection} {access}", access, until)
    session.flush()
    for name, access, until in (("Kín", "restricted", None), ("Cấm", "embargoed", future),
                                ("Hết cấm", "embargoed", past)):
        found = next(c for c in list_collections(session) if c.name == name)
        found.access, found.embargo_until = access, until


@pytest.mark.parametrize("reader, expected", [
    # anonymous: public and lapsed embargoes, in public or lapsed collections
    (Reader(None, TODAY), 2 * 2),
    # with KHO_PUBLIC_READ=false, an anonymous caller reads nothing
    (Reader(None, TODAY, public_read=False), 0),
    # any account: everything but embargoes in force, at AIP or collection level
    (Reader("researcher", TODAY), 3 * 3),
    (Reader("archivist", TODAY), 16),
    (Reader("auditor", TODAY), 16),
])
def test_listings_search_and_counts_hold_only_what_the_reader_may_read(catalog, reader, expected):
    with catalog.session() as session:
        _visibility_holdings(session)
    with catalog.session() as session:
        listed = list_aips(session, reader, per_page=5)
        assert listed.total == expected
        assert len(listed.items) == min(5, expected)  # pages are full: filtered before paging
        found = search_aips(session, reader, "so bi mat", per_page=100)
        assert found.total == expected == len(found.items)
        assert sum(count_readable_aips(session, reader).values()) == expected
        everything = {a.identifier for a in list_aips(session, STAFF, per_page=100)}
        readable = {a.identifier for a in list_aips(session, reader, per_page=100)}
        for identifier in everything - readable:  # what is left out is truly closed to them
            collection, access, until = identifier.split("/")
            closed = {"public": False, "restricted": reader.role is None,
                      "embargoed": until != str(TODAY - timedelta(days=1))}
            collection_closed = {"Mở": False, "Kín": reader.role is None,
                                 "Cấm": True, "Hết cấm": False}[collection]
            assert (closed[access] or collection_closed or not reader.public_read)


def test_collections_listing_names_only_collections_the_reader_may_see(catalog):
    with catalog.session() as session:
        _visibility_holdings(session)
    with catalog.session() as session:
        names = lambda reader: [c.name for c in list_collections(session, reader)]
        assert names(Reader(None, TODAY)) == ["Hết cấm", "Mở"]
        assert names(Reader("researcher", TODAY)) == ["Hết cấm", "Kín", "Mở"]
        assert names(STAFF) == ["Cấm", "Hết cấm", "Kín", "Mở"]
