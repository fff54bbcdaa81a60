"""Search as a Vietnamese reader uses it: words without tones or đ, phrases, prefixes,
fields, dates, Hán characters; ranked; with facets; and never showing what a reader may not
read, in results, totals or facet counts. Every test runs on SQLite and on PostgreSQL."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text

from repository.catalog import (Aip, DublinCoreRecord, Reader, get_or_create_collection,
                                search_aips)
from repository.metadata import canonical_record, primary_title, search_text
from repository.search import Filters, drop_aip, index_status, reindex, search, search_tokens
from repository.search.models import SearchDocument

TODAY = date(2026, 11, 25)
ARCHIVIST = Reader("archivist", TODAY)


def _dc(title, *, creator=(), subject=(), description=(), date=None, type="Text", lang="vi",
        more_titles=()):
    record = {"title": [{"value": title, "lang": "vi"}, *more_titles],
              "type": [{"value": type}], "language": [{"value": lang}]}
    for element, items in (("creator", creator), ("subject", subject),
                           ("description", description)):
        if items:
            record[element] = [{"value": v} for v in items]
    if date:
        record["date"] = [{"value": date}]
    return canonical_record(record)


def add_aip(session, identifier, record, collection="Hán Nôm", access="public",
            embargo_until=None):
    aip = Aip(identifier=identifier, ocfl_id=f"urn:kho:{identifier}",
              collection=get_or_create_collection(session, collection), location="local",
              object_root=identifier, payload_digest="0" * 64, access=access,
              embargo_until=embargo_until)
    aip.dublin_core = DublinCoreRecord(record=record, title=primary_title(record),
                                       search_text=search_text(record))
    session.add(aip)
    session.flush()
    return aip


HOLDINGS = {
    "hanoi": _dc("Hà Nội xưa", date="1890", subject=["Địa chí"]),
    "hanoi-hyphen": _dc("Hà-Nội phong cảnh", type="StillImage", date="1925"),
    "ha-noi-chuyen": _dc("Hà nói chuyện"),
    "hanh": _dc("Hạnh Thông Tây", date="1902"),
    "dai-nam": _dc("Đại Nam thực lục", creator=["Quốc sử quán triều Nguyễn"], date="1844/1909",
                   lang="vi-Hani", more_titles=[{"value": "大南寔錄", "lang": "vi-Hani"}]),
    "nguyen-du": _dc("Thơ Nguyễn Du", creator=["Nguyễn Du"], subject=["Thơ ca"]),
    "loi-uoc": _dc("Lời ước hẹn của Sương"),
    "can-giuoc": _dc("Văn tế nghĩa sĩ Cần Giuộc"),
    "le-quy-don": _dc("Kiến văn tiểu lục của Lê Quý Đôn"),
    "thuo-ay": _dc("Thuở ấy ưỡn ngực"),
    "to-khai": _dc("Tờ khai", description=["Nhà ở đường Hà Nội, gần chợ"]),
    "dien-ba": _dc("Sổ điền", subject=["Ruộng đất"], description=["Công điền của xã"]),
}
HA_NOI = {"hanoi", "hanoi-hyphen", "ha-noi-chuyen", "to-khai"}


@pytest.fixture
def holdings(catalog):
    with catalog.session() as session:
        for identifier, record in HOLDINGS.items():
            add_aip(session, identifier, record)
    return catalog


def found(session, text, reader=ARCHIVIST, **filters):
    result = search(session, reader, text, filters=Filters(**filters), per_page=100)
    assert result.total == len(result.hits)
    return [hit.aip.identifier for hit in result.hits]


# (what a reader types, the records it must find: every other record it must not)
VIETNAMESE_QUERIES = [
    ("ha noi", HA_NOI),                                   # without tones
    ("HÀ NỘI", HA_NOI),                                   # upper case, with tones
    ("Ha\u0300 No\u0323\u0302i", HA_NOI),                 # NFD, as typed on a Mac
    ("noi ha", HA_NOI),                                   # words in any order
    ("hà-nội", HA_NOI),                                   # a hyphen joins words as a phrase
    ('"noi ha"', set()),                                  # a phrase keeps its order
    ("ha", HA_NOI),                                       # a word, not a substring: not Hạnh
    ("hanh", {"hanh"}),
    ("dai nam", {"dai-nam"}), ("ĐẠI NAM", {"dai-nam"}), ("Đai nam", {"dai-nam"}),
    ("dại năm", {"dai-nam"}),                             # wrong tones still find it
    ("loi uoc", {"loi-uoc"}), ("lời ước", {"loi-uoc"}), ("suong", {"loi-uoc"}),   # ơ ư ươ
    ("can giuoc", {"can-giuoc"}), ("văn tế", {"can-giuoc"}),                      # ă ầ ế
    ("le quy don", {"le-quy-don"}), ("LÊ QUÝ ĐÔN", {"le-quy-don"}),             # ê ô Đ
    ("thuo ay", {"thuo-ay"}), ("uon nguc", {"thuo-ay"}),   # stacked: ở ấ ưỡ ự
    ("大南", {"dai-nam"}), ("南寔", {"dai-nam"}), ("寔錄", {"dai-nam"}),  # Hán, two of four
    ("大南寔錄", {"dai-nam"}), ("寔大", set()), ("錄", {"dai-nam"}),
    ("thuc*", {"dai-nam"}), ("nguy*", {"dai-nam", "nguyen-du"}),           # prefixes
    ("title:nguyen", {"nguyen-du"}), ("creator:nguyen", {"dai-nam", "nguyen-du"}),
    ('creator:"nguyen du"', {"nguyen-du"}), ("subject:tho", {"nguyen-du"}),
    ("subject:dia*", {"hanoi"}),
    ("date:1890..1900", {"hanoi", "dai-nam"}),            # a span overlapping the years
    ("ha noi date:1880..1895", {"hanoi"}), ("date:1920s", {"hanoi-hyphen"}),
    ('"ruong dat"', {"dien-ba"}), ('"ruong dat cong"', set()),  # a phrase stays in a field
    ("hà nội huế", set()),                                # every word must match
    ("%", set()), ("xyzzy", set()),
]


def test_vietnamese_queries_find_exactly_the_records_a_reader_means(holdings):
    with holdings.session() as session:
        wrong = {query: (sorted(found(session, query)), sorted(expected))
                 for query, expected in VIETNAMESE_QUERIES
                 if set(found(session, query)) != expected}
    assert wrong == {}, "query: (found, expected)"


def test_the_fold_makes_d_of_the_stroked_d_and_cuts_han_into_characters():
    assert search_tokens("ĐÀ Nẵng, đường") == ["da", "nang", "duong"]
    assert search_tokens("Hà-Nội 大南寔錄") == ["ha", "noi", "大", "南", "寔", "錄"]


def test_tones_typed_rank_exact_matches_first_and_titles_above_descriptions(holdings):
    with holdings.session() as session:
        toned = found(session, "hà nội")
        # exact "Hà Nội" in a title, then in a description, then the folded "Hà nói"
        assert set(toned[:2]) == {"hanoi", "hanoi-hyphen"}
        assert toned[2:] == ["to-khai", "ha-noi-chuyen"]
        bare = found(session, "ha noi")
        assert bare[-1] == "to-khai"  # no tones typed: the description match comes last
        assert found(session, "hà nói")[0] == "ha-noi-chuyen"


def test_more_of_the_query_in_the_title_ranks_higher(catalog):
    with catalog.session() as session:
        add_aip(session, "in-description", _dc("Sổ bộ", description=["Làng Đông Ngạc"]))
        add_aip(session, "one-in-title", _dc("Làng xưa", description=["Đông Ngạc"]))
        add_aip(session, "both-in-title", _dc("Làng Đông Ngạc ở Từ Liêm, bản sao chép tay"))
        add_aip(session, "both-short-title", _dc("Làng Đông Ngạc"))
        add_aip(session, "newer-in-description", _dc("Địa bạ", description=["Đông Ngạc, làng"]))
        assert found(session, "lang dong ngac") == [
            "both-short-title", "both-in-title", "one-in-title", "newer-in-description",
            "in-description"]  # equal ranks: the newest first
        assert found(session, '"dong ngac" lang*')[:2] == ["both-short-title", "both-in-title"]


def test_a_prefix_finds_every_word_it_begins_however_many_and_however_long(catalog):
    long_word = "a" * 95 + "bcdefghij"  # longer than the vocabulary keeps whole
    many = [f"tho{chr(ord('a') + n // 26)}{chr(ord('a') + n % 26)}" for n in range(30)]
    with catalog.session() as session:
        add_aip(session, "long", _dc("Mã số", description=[long_word]))
        add_aip(session, "few", _dc("Thơ Nguyễn Khuyến", description=["Nguyệt"]))
        for n, word in enumerate(many):
            add_aip(session, f"many-{n}", _dc(f"Tập {word}"))
        assert found(session, "a" * 90 + "*") == ["long"]
        assert found(session, "a" * 95 + "bcd*") == ["long"]
        assert found(session, "a" * 95 + "bcdefghi*") == ["long"]  # longer than kept: the index's
        assert found(session, "a" * 95 + "bcx*") == []
        assert set(found(session, "nguy*")) == {"few"}
        assert len(found(session, "tho*")) == 31  # more words than are expanded: the index's own
        assert found(session, "title:tho-nguy*") == ["few"]  # a phrase ending in a prefix
        assert found(session, "nguyx*") == []


def test_a_prefix_is_looked_up_as_the_words_it_stands_for(catalog):
    from repository.search.backends import backend_for
    from repository.search.finder import MAX_PREFIX_WORDS, known_words
    from repository.search.query import parse_query
    with catalog.session() as session:
        add_aip(session, "few", _dc("Thơ Nguyễn Khuyến", description=["Nguyệt thực"]))
        add_aip(session, "long", _dc("Mã", description=["nguy" + "x" * 120]))
        for n in range(MAX_PREFIX_WORDS + 1):
            add_aip(session, f"many-{n}", _dc(f"Thư{n}"))
        prefix, = known_words(session, parse_query("nguy*")).terms
        assert prefix.words == ("nguyen", "nguyet", "nguy" + "x" * 96)
        assert known_words(session, parse_query("thu*")).terms[0].words is None
        assert known_words(session, parse_query("thuc")).terms[0].words is None
        # Both indexes are asked for those words, not for every word the prefix begins:
        # FTS5 and GIN gather a prefix's lists whole before they intersect anything.
        expression = str(backend_for(session).match(known_words(
            session, parse_query("tho nguy*"))).compile().params)
        assert "nguyen" in expression and "nguyet" in expression, expression
        assert '"nguy" *' not in expression and "'nguy':*" not in expression, expression


def test_hits_carry_snippets_with_the_original_diacritics(holdings):
    with holdings.session() as session:
        hit = next(h for h in search(session, ARCHIVIST, "ha noi").hits
                   if h.aip.identifier == "to-khai")
        assert hit.snippets["description"] == "Nhà ở đường <mark>Hà</mark> <mark>Nội</mark>, gần chợ"
        han = search(session, ARCHIVIST, "大南").hits[0]
        assert han.snippets["title"] == "<mark>大</mark><mark>南</mark>寔錄"


def test_facets_count_what_the_query_found(holdings):
    with holdings.session() as session:
        result = search(session, ARCHIVIST, "ha noi")
        facets = {name: dict(items) for name, items in result.facets.items()}
        assert facets["type"] == {"Text": 3, "StillImage": 1}
        assert facets["collection"] == {"Hán Nôm": 4}
        assert facets["decade"] == {"1890": 1, "1920": 1}
        assert facets["access"] == {"public": 4}
        assert facets["lang"] == {"vi": 4}
        assert set(found(session, "ha noi", type=["StillImage"])) == {"hanoi-hyphen"}
        assert set(found(session, "", lang=["vi-Hani"])) == {"dai-nam"}
        assert set(found(session, "ha noi", date="1890s")) == {"hanoi"}
        assert found(session, "ha noi", collection=["Báo chí"]) == []
        dai_nam = {n: dict(i) for n, i in search(session, ARCHIVIST, "dai nam").facets.items()}
        assert dai_nam["decade"] == {str(d): 1 for d in range(1840, 1910, 10)}


def test_filters_follow_a_move_to_another_collection_and_long_date_spans(catalog):
    with catalog.session() as session:
        add_aip(session, "fonds", _dc("Châu bản triều Nguyễn", date="1400/1945"))
        add_aip(session, "decade", _dc("Châu bản năm Thành Thái", date="1901"))
        add_aip(session, "earlier", _dc("Châu bản năm Tự Đức", date="1870"))
        add_aip(session, "moved", _dc("Châu bản Huế", type="StillImage", lang="vi-Hani"))
    with catalog.session() as session:
        assert set(found(session, "chau ban", date="1900s")) == {"fonds", "decade"}
        assert set(found(session, "chau ban date:1905..1915")) == {"fonds"}
        assert set(found(session, "", date="1870..1901")) == {"fonds", "decade", "earlier"}
        assert set(found(session, "chau ban", date="..1500")) == {"fonds"}  # open range
        moved = session.scalar(select(Aip).where(Aip.identifier == "moved"))
        moved.collection = get_or_create_collection(session, "Châu bản")
    with catalog.session() as session:
        assert found(session, "chau ban", collection=["Châu bản"]) == ["moved"]
        assert found(session, "", collection=["Châu bản"], type=["StillImage"]) == ["moved"]
        assert "moved" not in found(session, "chau ban", collection=["Hán Nôm"])
        assert found(session, "chau ban", collection=["Châu bản"], lang=["vi"]) == []
        assert found(session, "hue", collection=["Không có"]) == []


def test_a_word_spelled_like_a_filter_token_is_not_a_filter(catalog):
    # The index holds filter tokens beside the words (f<id>, c<id>, ylong): a description
    # that happens to hold such words must not pass for a record of that type or fonds.
    with catalog.session() as session:
        add_aip(session, "text", _dc("Sách cũ"))
        tokens = " ".join([f"f{i}" for i in range(1, 60)] + [f"c{i}" for i in range(1, 20)]
                          + ["ylong", "#f1", "@Acu", "+cu sach"])
        add_aip(session, "image", _dc("Sách ảnh", type="StillImage", lang="fr",
                                      description=[tokens]), collection="Ảnh")
    with catalog.session() as session:
        assert found(session, "sach", type=["Text"]) == ["text"]
        assert found(session, "sach", lang=["vi"]) == ["text"]
        assert found(session, "sach", collection=["Hán Nôm"]) == ["text"]
        assert found(session, "sach", date="1900s") == []
        assert found(session, "title:cu") == ["text"]
        assert found(session, '"sach cu"') == ["text"]
        assert set(found(session, "f1")) == {"image"}


def test_a_phrase_is_found_in_a_text_too_long_for_its_word_pairs_to_be_kept(catalog):
    # PostgreSQL keeps a document's pairs of adjacent words for phrases, up to a bound; a
    # longer text (a book's pages) is re-checked word by word instead, and found the same.
    from repository.search.schema import MAX_PAIRS
    words = [f"tu{n}" for n in range(MAX_PAIRS + 50)]
    with catalog.session() as session:
        add_aip(session, "long", _dc("Sách dài", description=[" ".join(words)]))
        add_aip(session, "short", _dc("Sách ngắn", description=["tu17 tu18 tu19"]))
    with catalog.session() as session:
        assert set(found(session, '"tu17 tu18"')) == {"long", "short"}
        assert found(session, f'"tu{MAX_PAIRS + 40} tu{MAX_PAIRS + 41}"') == ["long"]
        assert found(session, '"tu18 tu17"') == []
        assert found(session, '"sach dai tu0"') == []  # a phrase stays in one field
        assert set(found(session, "tu17-tu1*")) == {"long", "short"}  # a phrase ending in a prefix


@pytest.mark.postgres
def test_postgresql_keeps_a_long_description_s_vector_in_its_row(postgres_url):
    # Moved out of line (TOAST), a vector is read back through another table's index at
    # every rank and re-check: a common word's first matches took twice as long.
    from repository.catalog import open_catalog
    catalog = open_catalog(postgres_url)
    try:
        catalog.upgrade()
        with catalog.session() as session:
            for n in range(20):
                add_aip(session, f"long-{n}", _dc(f"Địa bạ làng {n}", description=[" ".join(
                    f"chữ{n}{i} Nôm{i} ruộng đất" for i in range(60))]))
        with catalog.session() as session:
            size, toast = session.execute(text(
                "SELECT max(pg_column_size(search_vector)), "
                "pg_relation_size((SELECT reltoastrelid FROM pg_class "
                "WHERE relname = 'search_documents')) FROM search_documents")).one()
            assert size > 4000 and toast == 0
            assert len(found(session, '"ruong dat chu17"')) == 1
    finally:
        catalog.dispose()


def test_a_typo_gets_a_did_you_mean_that_finds_something(holdings):
    with holdings.session() as session:
        result = search(session, ARCHIVIST, "giuok")
        assert result.total == 0 and result.suggestion == "giuoc"
        assert search(session, ARCHIVIST, "qqqqqq").suggestion is None


def _visibility_holdings(session):
    """Four AIPs about "làng" in each of: an open collection, a closed one (accounts only)."""
    soon = TODAY + timedelta(days=30)
    for collection, kind in (("Mở", "Text"), ("Kín", "Image")):
        for access, until in (("public", None), ("restricted", None), ("embargoed", soon),
                              ("embargoed", TODAY - timedelta(days=1))):
            add_aip(session, f"{collection}/{access}/{until}",
                    _dc(f"Sổ làng {access}", type=kind), collection=collection, access=access,
                    embargo_until=until)
    session.get(type(get_or_create_collection(session, "Kín")),
                get_or_create_collection(session, "Kín").id).access = "restricted"


@pytest.mark.parametrize("reader, expected", [
    (Reader(None, TODAY), {"Mở/public/None", f"Mở/embargoed/{TODAY - timedelta(days=1)}"}),
    (Reader("researcher", TODAY), {
        f"{c}/{a}/{u}" for c in ("Mở", "Kín")
        for a, u in (("public", None), ("restricted", None),
                     ("embargoed", TODAY - timedelta(days=1)))}),
    (Reader("archivist", TODAY), None),  # everything
])
def test_each_reader_sees_exactly_what_they_may_read_in_hits_totals_and_facets(
        catalog, reader, expected):
    with catalog.session() as session:
        _visibility_holdings(session)
    with catalog.session() as session:
        everything = set(found(session, "lang"))
        assert len(everything) == 8
        expected = everything if expected is None else expected
        result = search(session, reader, "lang", per_page=3)
        assert result.total == len(expected)
        assert len(result.hits) == min(3, len(expected))  # pages are full: no filter after
        assert set(found(session, "lang", reader)) == expected
        facets = {name: dict(items) for name, items in result.facets.items()}
        by_collection = {c: sum(1 for e in expected if e.startswith(c + "/")) for c in ("Mở", "Kín")}
        assert facets["collection"] == {c: n for c, n in by_collection.items() if n}
        assert facets["type"] == {t: n for t, n in (("Text", by_collection["Mở"]),
                                                    ("Image", by_collection["Kín"])) if n}
        assert sum(facets["access"].values()) == len(expected)
        # a facet filter cannot reach round the rule either
        assert set(found(session, "lang", reader, access=["restricted"])) == {
            e for e in expected if "/restricted/" in e}
        assert search_aips(session, reader, "lang").total == len(expected)


def test_the_index_follows_edits_access_changes_and_deletion_in_the_same_transaction(catalog):
    with catalog.session() as session:
        aip = add_aip(session, "edit-me", _dc("Bản đồ Huế"))
    with catalog.session() as session:
        aip = session.scalar(select(Aip).where(Aip.identifier == "edit-me"))
        aip.dublin_core.record = _dc("Bản đồ Đà Nẵng")
        aip.access = "restricted"
    with catalog.session() as session:
        assert found(session, "da nang") == ["edit-me"] and found(session, "hue") == []
        assert found(session, "da nang", Reader(None, TODAY)) == []
        assert dict(search(session, ARCHIVIST, "da nang").facets["access"]) == {"restricted": 1}
    with pytest.raises(RuntimeError):
        with catalog.session() as session:  # a failed transaction leaves the index as it was
            aip = session.scalar(select(Aip).where(Aip.identifier == "edit-me"))
            aip.dublin_core.record = _dc("Bản đồ Quảng Trị")
            session.flush()
            raise RuntimeError("catalogue write failed")
    with catalog.session() as session:
        assert found(session, "quang tri") == [] and found(session, "da nang") == ["edit-me"]
        session.delete(session.scalar(select(Aip).where(Aip.identifier == "edit-me")))
    with catalog.session() as session:
        assert found(session, "da nang") == []
        assert session.scalar(select(func.count()).select_from(SearchDocument)) == 0


def test_reindex_rebuilds_the_index_and_drop_aip_takes_one_out(holdings):
    with holdings.session() as session:
        session.execute(SearchDocument.__table__.delete())
        assert found(session, "ha noi") == []
        assert reindex(session) == len(HOLDINGS)
    with holdings.session() as session:
        assert set(found(session, "ha noi")) == HA_NOI
        hanoi = session.scalar(select(Aip).where(Aip.identifier == "hanoi"))
        drop_aip(session, hanoi.id)
        assert set(found(session, "ha noi")) == HA_NOI - {"hanoi"}


def raw_matches(session, words: str) -> list[int]:
    """SQLite: the rowids the full-text table itself holds for these folded words."""
    return list(session.scalars(text("SELECT rowid FROM search_fts WHERE search_fts MATCH :q"),
                                {"q": words}))


def test_a_document_rewritten_in_its_own_transaction_leaves_nothing_behind(catalog):
    # An ingest flushes its AIP before its description, so the AIP is indexed twice in one
    # transaction. SQLite's contentless tables forget the first text only when given it
    # again: Kho gives it while the transaction that wrote it lasts. A description changed
    # in a later transaction leaves its old entries behind (unreachable) until reindex,
    # and `kho search status` (index_status) says how many.
    sqlite = catalog.engine.dialect.name == "sqlite"
    with catalog.session() as session:
        aip = Aip(identifier="flushed", ocfl_id="urn:kho:flushed",
                  collection=get_or_create_collection(session, "Hán Nôm"), location="local",
                  object_root="flushed", payload_digest="0" * 64, access="public")
        session.add(aip)
        session.flush()  # indexed with no description
        record = _dc("Địa bạ xã Thổ Hà")
        aip.dublin_core = DublinCoreRecord(record=record, title=primary_title(record),
                                           search_text=search_text(record))
        session.flush()  # indexed again
        aip.dublin_core.record = _dc("Hương ước làng Đông Ngạc")
        session.flush()  # and again, still the same transaction
        dropped = add_aip(session, "dropped", _dc("Sắc phong Thổ Hà"))
        drop_aip(session, dropped.id)
    with catalog.session() as session:
        state = index_status(session)
        assert (state.documents, state.left_behind, state.reindex_advised) == \
            ({"aip": 1}, 0, False)
        assert state.size_bytes is None or state.size_bytes > 0
        if sqlite:
            # Every full-text entry is a live document's (a wrong value given to FTS5's
            # 'delete' corrupts the index, which the integrity check would report).
            session.execute(text("INSERT INTO search_fts(search_fts) VALUES ('integrity-check')"))
            assert session.scalar(text("SELECT count(*) FROM search_fts_docsize")) == 1
            assert raw_matches(session, "tho ha") == raw_matches(session, "sac phong") == []
        assert found(session, "dong ngac") == ["flushed"]
        assert found(session, "tho ha") == [] and found(session, "sac phong") == []
        aip = session.scalar(select(Aip).where(Aip.identifier == "flushed"))
        aip.dublin_core.record = _dc("Gia phả họ Ngô")
    with catalog.session() as session:
        state = index_status(session)
        assert state.left_behind == (1 if sqlite else 0)
        assert state.reindex_advised is sqlite  # 1 entry of 2
        assert found(session, "gia pha ngo") == ["flushed"] and found(session, "dong ngac") == []
        reindex(session)
    with catalog.session() as session:
        assert index_status(session).left_behind == 0
        assert found(session, "gia pha ngo") == ["flushed"]


def test_a_transaction_holds_a_bounded_number_of_texts_to_forget(catalog, monkeypatch):
    # A rebuild writes every document once: the texts held to forget them are bounded, and
    # a document written past the bound is left behind when replaced, never mis-deleted.
    from repository.search import upkeep
    monkeypatch.setattr(upkeep, "FRESH_MAX", 2)
    with catalog.session() as session:
        aips = [add_aip(session, f"a{n}", _dc(f"Địa bạ số {n}")) for n in range(4)]
        for aip in (aips[0], aips[3]):  # one held, one past the bound
            aip.dublin_core.record = _dc(f"Hương ước {aip.identifier}")
        session.flush()
    with catalog.session() as session:
        sqlite = catalog.engine.dialect.name == "sqlite"
        assert index_status(session).left_behind == (1 if sqlite else 0)
        if sqlite:
            session.execute(text("INSERT INTO search_fts(search_fts) VALUES ('integrity-check')"))
        assert sorted(found(session, "huong uoc")) == ["a0", "a3"]
        assert sorted(found(session, "dia ba")) == ["a1", "a2"]


def test_an_id_given_again_after_a_savepoint_rollback_is_forgotten_with_its_own_text(catalog):
    # A savepoint rolled back takes its documents and their full-text entries with it,
    # and SQLite hands the same id out again: the text held for that id must then be the
    # new document's, or FTS5's 'delete' would be given the wrong words.
    with catalog.session() as session:
        savepoint = session.begin_nested()
        add_aip(session, "undone", _dc("Sắc phong làng Đông Ngạc"))
        first_id = session.scalar(select(func.max(SearchDocument.id)))
        savepoint.rollback()  # the outer transaction goes on
        kept = add_aip(session, "kept", _dc("Địa bạ xã Thổ Hà"))
        reused = session.scalar(select(SearchDocument.id).where(
            SearchDocument.aip_id == kept.id))
        kept.dublin_core.record = _dc("Gia phả họ Ngô")
        session.flush()
    with catalog.session() as session:
        if catalog.engine.dialect.name == "sqlite":
            assert reused == first_id  # the case this test is about
            session.execute(text("INSERT INTO search_fts(search_fts) VALUES ('integrity-check')"))
            # The full-text table itself, not only what search reaches through
            # search_documents: the replaced words are gone (given the wrong words, FTS5
            # would keep them, and its integrity check cannot tell without the content).
            assert raw_matches(session, "tho ha") == raw_matches(session, "dong ngac") == []
            assert len(raw_matches(session, "gia pha ngo")) == 1
        assert index_status(session).left_behind == 0
        assert found(session, "gia pha ngo") == ["kept"]
        assert found(session, "tho ha") == [] and found(session, "dong ngac") == []


def test_a_document_id_is_never_given_again_and_unchanged_text_is_not_indexed_again(catalog):
    # SQLite's full-text tables are contentless: the words of a deleted document stay
    # there under its id. Deleting the newest document and writing another must not hand
    # the new one that id (it would be found by the old words); an access change, which
    # leaves the text as it was, keeps the document and its index entries.
    with catalog.session() as session:
        add_aip(session, "first", _dc("Sắc phong làng Đông Ngạc"))
        newest = add_aip(session, "newest", _dc("Hương ước Thổ Hà"))
        newest_id = session.scalar(select(SearchDocument.id).where(
            SearchDocument.aip_id == newest.id))
    with catalog.session() as session:
        session.delete(session.get(Aip, newest.id))
    with catalog.session() as session:
        later = add_aip(session, "later", _dc("Gia phả họ Ngô"))
        later_id = session.scalar(select(SearchDocument.id).where(
            SearchDocument.aip_id == later.id))
        assert later_id > newest_id
    with catalog.session() as session:
        assert found(session, "huong uoc tho ha") == [] and found(session, "tho ha") == []
        assert found(session, "gia pha ngo") == ["later"]
        later = session.scalar(select(Aip).where(Aip.identifier == "later"))
        later.access = "restricted"
    with catalog.session() as session:
        document = session.scalar(select(SearchDocument).where(
            SearchDocument.aip_id == later.id))
        assert (document.id, document.access) == (later_id, "restricted")
        assert found(session, "gia pha ngo", Reader(None, TODAY)) == []
        assert found(session, "gia pha ngo") == ["later"]
        later = session.scalar(select(Aip).where(Aip.identifier == "later"))
        later.dublin_core.record = _dc("Gia phả họ Lê")
    with catalog.session() as session:
        assert found(session, "ngo") == [] and found(session, "gia pha le") == ["later"]
        assert session.scalar(select(SearchDocument.id).where(
            SearchDocument.aip_id == later.id)) > later_id
