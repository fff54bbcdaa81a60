"""The union catalogue in Kho's search: harvested records are found with Kho's own AIPs,
ranked, by folded words, one result per work with every library that holds it; harvested
descriptions are public, Kho's AIPs keep their access. Every test runs on SQLite and on
PostgreSQL."""
from __future__ import annotations

import urllib.parse
from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from repository.catalog import Reader
from repository.cli import kho
from repository.errors import UsageError
from repository.search import reindex, search, search_works
from repository.search.models import UNION_DOCUMENT, SearchDocument
from repository.union import UnionRecord, UnionSource
from repository.union.records import record_link, searchable_text, work_key
from repository.web import create_app
from tests.fixtures.kho_server import kho_environment
from tests.test_search import _dc, add_aip

TODAY = date(2026, 12, 2)
ANONYMOUS = Reader(None, TODAY)
ARCHIVIST = Reader("archivist", TODAY)
HUE = "Thư viện tỉnh Thừa Thiên Huế"
NAM_DINH = "Thư viện tỉnh Nam Định"
OWN = "Thư viện tỉnh Hà Nam"
ISBN = "ISBN 978-604-1-00001-1"


def source(session, name: str) -> UnionSource:
    found = session.scalar(select(UnionSource).where(UnionSource.name == name))
    if found is None:
        found = UnionSource(name=name, base_url=f"https://{len(name)}.example.vn/oai")
        session.add(found)
        session.flush()
    return found


def harvest(session, library: str, number: int, title: str, **elements) -> UnionRecord:
    """Write a harvested record as the harvester does (one catalogue session, one flush)."""
    record = {"title": [{"value": title, "lang": "vi"}],
              **{k: [{"value": v} for v in (vs if isinstance(vs, list) else [vs])]
                 for k, vs in elements.items()}}
    held_by = source(session, library)
    oai_identifier = f"oai:{held_by.id}.example.vn:{number}"
    row = UnionRecord(source_id=held_by.id, oai_identifier=oai_identifier,
                      datestamp="2026-11-30", set_specs=[], raw_xml="<record/>", record=record,
                      title=title, search_text=searchable_text(record),
                      work_key=work_key(record),
                      link=record_link(record, held_by.base_url, oai_identifier, "oai_dc"))
    session.add(row)
    session.flush()
    return row


def works(session, text, reader=ANONYMOUS, **options):
    result = search_works(session, reader, text, own_library=OWN, per_page=50, **options)
    assert result.total == len(result.works)
    return [(w.title, [h.library for h in w.holders]) for w in result.works]


def test_a_toneless_query_finds_a_harvested_vietnamese_title_with_its_holder_and_link(catalog):
    with catalog.session() as session:
        harvest(session, HUE, 1, "Hà Nội xưa và nay", creator="Nguyễn Văn Uẩn", date="1969",
                identifier="https://hue.example.vn/s/1")
    with catalog.session() as session:
        assert works(session, "ha noi") == [("Hà Nội xưa và nay", [HUE])]
        assert works(session, "HA-NOI xua") == [("Hà Nội xưa và nay", [HUE])]
        assert works(session, "nguyen van uan") == [("Hà Nội xưa và nay", [HUE])]
        holder = search_works(session, ANONYMOUS, "hà nội", own_library=OWN).works[0].holders[0]
        assert holder.link == "https://hue.example.vn/s/1" and not holder.own
        assert holder.title == "Hà Nội xưa và nay"  # NFC, diacritics kept
        # Kho's own search (AIPs) is not changed by harvested records.
        assert search(session, ANONYMOUS, "ha noi").total == 0


def test_ha_does_not_find_hanh_and_words_are_ranked(catalog):
    with catalog.session() as session:
        harvest(session, HUE, 1, "Hạnh Thông Tây")
        harvest(session, HUE, 2, "Sổ điền", description="Ruộng ở làng Hà Khê")
        harvest(session, NAM_DINH, 3, "Hà Khê phong cảnh")
    with catalog.session() as session:
        assert works(session, "ha") == [("Hà Khê phong cảnh", [NAM_DINH]),
                                        ("Sổ điền", [HUE])]  # the title weighs more
        assert works(session, "hanh") == [("Hạnh Thông Tây", [HUE])]
        suggestion = search_works(session, ANONYMOUS, "thongg tay", own_library=OWN).suggestion
        assert suggestion == "thong tay"  # the harvested words are in "did you mean" too


def test_the_same_work_from_two_sources_and_kho_is_one_result_with_every_holder(catalog):
    with catalog.session() as session:
        add_aip(session, "kieu", {**_dc("Truyện Kiều", creator=["Nguyễn Du"]),
                                  "identifier": [{"value": "ISBN 9786041000011"}]})
        harvest(session, HUE, 1, "Truyện Kiều", creator="Nguyễn Du", identifier=ISBN)
        harvest(session, NAM_DINH, 2, "Đoạn trường tân thanh", identifier="978 604 1 00001 1")
        # No identifier: matched on folded title, creator and year.
        harvest(session, NAM_DINH, 3, "Đại Nam thực lục", creator="Quốc sử quán", date="1844")
        harvest(session, HUE, 4, "ĐẠI NAM THỰC LỤC", creator="Quốc Sử Quán",
                date="1844-01-01")
        harvest(session, NAM_DINH, 5, "Đại Nam thực lục", creator="Quốc sử quán", date="1909")
    with catalog.session() as session:
        assert works(session, "truyen kieu") == [("Truyện Kiều", [OWN, NAM_DINH, HUE])]
        result = search_works(session, ANONYMOUS, "truyen kieu", own_library=OWN)
        assert result.works[0].holders[0].aip.identifier == "kieu"
        # A work's title is its first holder's (Kho, then libraries by name).
        assert works(session, "dai nam") == [("Đại Nam thực lục", [NAM_DINH, HUE]),
                                             ("Đại Nam thực lục", [NAM_DINH])]  # another year
        assert len({d for d in session.scalars(select(SearchDocument.work_key).where(
            SearchDocument.kind == UNION_DOCUMENT))}) == 3


def test_a_restricted_kho_aip_is_not_shown_to_an_anonymous_visitor(catalog):
    with catalog.session() as session:
        add_aip(session, "bao-hue", _dc("Báo Huế", date="1930"), access="restricted")
        add_aip(session, "dia-ba", _dc("Địa bạ Hành Thiện", date="1805"), access="restricted")
        harvest(session, HUE, 1, "Báo Huế", date="1930")
    with catalog.session() as session:
        assert works(session, "bao hue") == [("Báo Huế", [HUE])]
        assert works(session, "dia ba") == []
        researcher = Reader("researcher", TODAY)
        assert works(session, "bao hue", researcher) == [("Báo Huế", [OWN, HUE])]
        assert works(session, "dia ba", researcher) == [("Địa bạ Hành Thiện", [OWN])]
        assert works(session, "dia ba", Reader(None, TODAY, public_read=False)) == []


def test_harvest_deletions_and_reindex_keep_union_documents_in_step(catalog):
    with catalog.session() as session:
        kept = harvest(session, HUE, 1, "Ô châu cận lục").id
        gone = harvest(session, HUE, 2, "Ô châu cận lục", identifier="ISBN 9786041000028").id
    with catalog.session() as session:
        assert works(session, "o chau") == [("Ô châu cận lục", [HUE]),
                                            ("Ô châu cận lục", [HUE])]
        session.get(UnionRecord, gone).deleted = True  # as a harvest marks a deletion
    with catalog.session() as session:
        assert works(session, "o chau") == [("Ô châu cận lục", [HUE])]
        session.get(UnionRecord, kept).title = "Ô châu cận lục (bản mới)"
        session.get(UnionRecord, kept).record = {"title": [{"value": "Ô châu cận lục mới"}]}
    with catalog.session() as session:
        assert works(session, "moi") == [("Ô châu cận lục (bản mới)", [HUE])]
        reindex(session)
    with catalog.session() as session:
        assert session.scalar(select(func.count()).where(
            SearchDocument.kind == UNION_DOCUMENT)) == 1
        assert works(session, "o chau moi") == [("Ô châu cận lục (bản mới)", [HUE])]


def test_kho_search_reindex_indexes_the_union_catalogue_too(catalog, kho_settings):
    with catalog.session() as session:
        harvest(session, HUE, 1, "Ô châu cận lục")
        session.execute(SearchDocument.__table__.delete())
    result = CliRunner().invoke(kho, ["search", "reindex"], env=kho_environment(kho_settings))
    assert result.exit_code == 0, result.output
    assert "indexed 0 AIPs and 1 union catalogue records" in result.output
    with catalog.session() as session:
        assert works(session, "o chau can luc") == [("Ô châu cận lục", [HUE])]



def test_the_tones_typed_rank_first_and_beyond_the_cap_the_union_search_says_more_than(catalog):
    """At most ``total_cap`` matching documents are ranked and grouped, as Kho's own search
    does (a million documents took a second to rank and group whole); the reader's access
    decides what counts towards it."""
    with catalog.session() as session:
        for n, title in enumerate(("Hà nói chuyện làng", "Ha Noi 1930", "Hà Nội xưa",
                                   "Hà Nội nay", "Hạ Nổi")):
            harvest(session, HUE, n, title)
        add_aip(session, "mat", _dc("Hà Nội mật"), access="restricted")
    with catalog.session() as session:
        found = search_works(session, ANONYMOUS, "Hà Nội", own_library=OWN)
        assert found.total == 5 and found.total_is_exact
        assert {w.title for w in found.works[:2]} == {"Hà Nội xưa", "Hà Nội nay"}
        assert [w.exact for w in found.works] == [True, True, False, False, False]
        # The restricted AIP is not a match for an anonymous visitor, so 5 is exact.
        assert search_works(session, ANONYMOUS, "ha noi", own_library=OWN,
                            total_cap=5).total_is_exact
        researcher = search_works(session, Reader("researcher", TODAY), "ha noi",
                                  own_library=OWN, total_cap=5)
        assert researcher.total == 5 and not researcher.total_is_exact
        capped = search_works(session, ANONYMOUS, "Hà Nội", own_library=OWN, total_cap=3,
                              per_page=2)
        assert (capped.total, capped.total_is_exact, len(capped.works)) == (3, False, 2)
        past = search_works(session, ANONYMOUS, "Hà Nội", own_library=OWN, total_cap=3,
                            page=4, per_page=2)
        assert (past.works, past.total, past.total_is_exact) == ([], 3, False)
        with pytest.raises(UsageError):
            search_works(session, ANONYMOUS, "ha noi", own_library=OWN, total_cap=0)


@pytest.fixture
def app(kho_settings, catalog):
    app = create_app(kho_settings.replace(holding_institution=OWN))
    yield app
    app.extensions["kho"].catalog.dispose()


def test_search_api_and_union_page_search_the_union_catalogue(app, catalog):
    with catalog.session() as session:
        add_aip(session, "kieu", {**_dc("Truyện Kiều"),
                                  "identifier": [{"value": "ISBN 9786041000011"}]})
        add_aip(session, "kieu-han", {**_dc("Kim Vân Kiều truyện"),
                                      "identifier": [{"value": "ISBN 9786041000028"}]},
                access="restricted")
        harvest(session, HUE, 1, "Truyện Kiều", identifier=ISBN)
        harvest(session, NAM_DINH, 2, "Truyện Kiều", identifier=[ISBN, "https://nd.vn/r/2"])
    client = app.test_client()

    def get(**params):
        response = client.get("/api/v1/search?" + urllib.parse.urlencode(params))
        return response.status_code, response.get_json()

    status, answer = get(q="kieu", source="union")
    assert status == 200 and answer["source"] == "union" and answer["total"] == 1
    [work] = answer["works"]
    assert work["title"] == "Truyện Kiều" and work["snippets"]["title"] == "Truyện <mark>Kiều</mark>"
    assert [(h["library"], h["own"], h["identifier"]) for h in work["holders"]] == [
        (OWN, True, "kieu"), (NAM_DINH, False, None), (HUE, False, None)]
    assert work["holders"][0]["link"].endswith("/aips/kieu")
    assert work["holders"][1]["link"] == "https://nd.vn/r/2"
    assert work["holders"][2]["link"].startswith("https://")
    assert "verb=GetRecord" in work["holders"][2]["link"]
    assert work["holders"][2]["oai_identifier"].endswith(":1")
    # Kho's own search answers as before: hits and facets, AIPs only.
    status, own = get(q="kieu")
    assert status == 200 and "works" not in own and "source" not in own
    assert [h["identifier"] for h in own["hits"]] == ["kieu"] and own["facets"]["access"]
    assert get(q="kieu", source="everywhere")[0] == 400

    page = client.get("/union?q=TRUYEN+kieu").get_data(as_text=True)
    assert page.count('class="work"') == 1 and page.count('class="holder"') == 3
    assert 'href="/aips/kieu"' in page and 'href="https://nd.vn/r/2"' in page
    assert "Kim Vân Kiều" not in page  # restricted: not for an anonymous visitor
    assert answer["total_is_exact"] is True
    services = app.extensions["kho"]
    services.settings = services.settings.replace(search_total_cap=1)  # 3 documents match
    status, capped = get(q="kieu", source="union")
    assert (status, capped["total"], capped["total_is_exact"]) == (200, 1, False)
    client.get("/language/en")
    assert "(more than 1)" in client.get("/union?q=kieu").get_data(as_text=True)
