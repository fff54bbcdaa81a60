"""Search at scale: index build time, query latency with and without facets, index size,
and the same queries run as the substring scan Kho used before (``LIKE '%…%'``).

Generates realistic Dublin Core records (Vietnamese titles and names with every tone and đ,
Hán titles, dates, subjects, several collections, mixed access), loads them into a fresh
catalogue on SQLite and on PostgreSQL, builds the index with ``repository.search.reindex``
and runs a fixed set of 20 queries as an anonymous visitor (so the access condition is in
every query), each several times; and five of them as the union catalogue's search.

Targets at 1,000,000 records: p95 ≤ 50 ms without facets, ≤ 250 ms with facets; the index
at most 2× the size of the Dublin Core text. Beyond 10,000 matches (KHO_SEARCH_TOTAL_CAP)
a search counts, ranks and facets the first 10,000 found and says "more than": the hits
column shows "10000+". The LIKE scan counts every match, as Kho did before.

After Kho's queries, the same run builds each database's bare full-text index of the same
records and times the same queries on it (search_floor.py): the floor under any search
there, printed beside Kho's figures (``--no-floor`` skips it).

    .venv/bin/python benchmarks/search.py --records 100000
    .venv/bin/python benchmarks/search.py --records 100000,1000000 --backends sqlite,postgresql
"""
from __future__ import annotations

import argparse
import itertools
import json
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import and_, func, insert, select, text  # noqa: E402

from repository.catalog import Aip, Collection, DublinCoreRecord, Reader, open_catalog  # noqa: E402
from repository.catalog.visibility import readable_aips  # noqa: E402
from repository.metadata import fold_for_search, primary_title, search_text  # noqa: E402
from repository.search import Filters, index_status, reindex, search, search_works  # noqa: E402

import search_floor  # noqa: E402  (beside this script)
from search_floor import percentile  # noqa: E402

POSTGRES = "host=127.0.0.1 port=5432 dbname=test user=postgres"
TARGET_P95_MS = {"plain": 50, "facets": 250}
TARGET_SIZE_RATIO = 2.0
REPEATS = 5

FAMILY = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi",
          "Đỗ", "Hồ", "Ngô", "Dương", "Lý", "Trương", "Đinh", "Lưu", "Mạc"]
MIDDLE = ["Văn", "Thị", "Đức", "Hữu", "Quang", "Minh", "Ngọc", "Thanh", "Xuân", "Công", "Đình"]
GIVEN = ["An", "Bình", "Cường", "Dũng", "Đạt", "Hùng", "Hương", "Lan", "Ngọc", "Phương",
         "Thảo", "Tuấn", "Yến", "Nghĩa", "Ưng", "Ơn", "Khiêm", "Trứ", "Tộ", "Chiểu", "Huệ",
         "Quỳnh", "Thuở", "Sương", "Đôn", "Giang", "Hải", "Kiên", "Lộc", "Mỹ"]
PLACES = ["Hà Nội", "Huế", "Sài Gòn", "Đà Nẵng", "Nam Định", "Thái Bình", "Bắc Ninh",
          "Quảng Trị", "Nghệ An", "Thanh Hóa", "Hải Dương", "Hưng Yên", "Gia Định", "Cần Thơ",
          "Vĩnh Long", "Phú Yên", "Bình Định", "Quảng Nam", "Hội An", "Đông Ngạc", "Thăng Long"]
KINDS = ["Địa bạ", "Hương ước", "Sắc phong", "Gia phả", "Văn tế", "Thần tích", "Châu bản",
         "Mộc bản", "Bản đồ", "Báo", "Tạp chí", "Sổ bộ", "Điền bạ", "Tộc phả", "Thơ văn",
         "Truyện", "Tờ khai", "Văn bia", "Câu đối", "Kinh"]
WORDS = ("làng xã tổng huyện phủ tỉnh triều Nguyễn Lê đời vua năm thứ Minh Mạng Thiệu Trị Tự "
         "Đức Thành Thái Khải Định Bảo Đại ruộng đất công tư điền thổ thuế khóa đình chùa miếu "
         "đền lễ hội tế thần thành hoàng họ tộc con cháu đời trước sau cũ mới của người dân "
         "quan lại chức sắc hương lý kỳ mục nhà nước sông núi chợ đường cầu bến đò trường học "
         "sách chữ Hán Nôm quốc ngữ bản sao chép tay in khắc gỗ giấy dó mực tàu trang tờ quyển "
         "tập số ngày tháng phố phường ấp thôn trại cửa biển đảo rừng đồi ruộng muối lúa gạo "
         "ngô khoai sắn chè cà phê cao su thuốc bắc nam ơn nghĩa ước hẹn ưu ái ăn ở ấm êm ổn "
         "định").split()
SUBJECTS = ["Lịch sử", "Địa chí", "Ruộng đất", "Tín ngưỡng", "Gia đình", "Văn học", "Giáo dục",
            "Hành chính", "Thuế khóa", "Phong tục", "Báo chí", "Tôn giáo", "Kinh tế", "Ngôn ngữ"]
HAN = "大南寔錄正編前編列傳欽定越史通鑑綱目皇越地輿志嘉定城通志同慶御覽地輿誌圖鄉約神敕家譜"
TYPES = [("Text", 70), ("StillImage", 15), ("Image", 5), ("PhysicalObject", 5), ("Dataset", 5)]
LANGS = [("vi", 70), ("vi-Hani", 15), ("vi-Nom", 5), ("fr", 7), ("zh-Hant", 3)]
COLLECTIONS = ["Hán Nôm", "Báo chí", "Địa bạ", "Hương ước", "Sắc phong", "Gia phả",
               "Ảnh tư liệu", "Bản đồ cổ"]

# 20 queries: folded words, tones, phrases, prefixes, fields, dates, Hán, many hits, none.
QUERIES = [
    ("ha noi", {}), ("Hà Nội", {}), ("dia ba lang", {}), ("huong uoc dong ngac", {}),
    ('"thanh hoang"', {}), ('"ruong dat cong"', {}), ("nguy*", {}), ("thieu tri*", {}),
    ("creator:nguyen", {}), ("title:sac phong", {}), ("hue date:1880..1910", {}),
    ("大南", {}), ("欽定越史", {}), ("lang", {}), ("nam", {}),
    ("xyzzyq", {}), ("chu han nom", {"type": ["Text"]}),
    ("bao", {"collection": ["Báo chí"]}), ("gia pha ho", {"lang": ["vi"]}),
    ("van te than", {"date": "1900s"}),
]


UNION_QUERIES = ["ha noi", "nam", "huong uoc dong ngac", '"ruong dat cong"', "xyzzyq"]


def _choice(rng: random.Random, weighted: list[tuple[str, int]]) -> str:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FAMILY)} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}"


def make_record(rng: random.Random) -> dict:
    lang = _choice(rng, LANGS)
    title = f"{rng.choice(KINDS)} {' '.join(rng.choices(WORDS, k=rng.randint(0, 3)))} " \
            f"{rng.choice(PLACES)}".replace("  ", " ")
    titles = [{"value": title, "lang": "vi"}]
    if lang in ("vi-Hani", "vi-Nom", "zh-Hant") or rng.random() < 0.05:
        titles.append({"value": "".join(rng.choices(HAN, k=rng.randint(3, 8))),
                       "lang": "vi-Hani"})
    year = rng.randint(1800, 2000)
    when = str(year) if rng.random() < 0.7 else f"{year}/{min(2000, year + rng.randint(1, 40))}"
    return {"title": titles,
            "creator": [{"value": _name(rng)} for _ in range(rng.randint(1, 2))],
            "subject": [{"value": s} for s in rng.sample(SUBJECTS, rng.randint(1, 3))],
            "description": [{"value": " ".join(rng.choices(WORDS, k=rng.randint(15, 45)))
                             + f" {rng.choice(PLACES)}"}],
            "publisher": [{"value": "Thư viện tỉnh"}],
            "date": [{"value": when}], "type": [{"value": _choice(rng, TYPES)}],
            "language": [{"value": lang}],
            "identifier": [{"value": f"TV-{rng.randint(1, 10**7):07d}"}]}


def records(count: int, seed: int = 11):
    """``count`` records, each as (its number from 0, the Dublin Core record, a roll in
    [0, 1) for its access, its collection's name): the one sequence ``load`` and the floor
    (search_floor.Generated) both take, so they describe the same records."""
    rng = random.Random(seed)
    for n in range(count):
        yield n, make_record(rng), rng.random(), rng.choice(COLLECTIONS)


def text_bytes(record: dict) -> int:
    """The bytes of a record's Dublin Core text (its values, UTF-8)."""
    return sum(len(v["value"].encode()) for vs in record.values() for v in vs)


def load(catalog, count: int, seed: int = 11) -> int:
    """Insert ``count`` AIPs with descriptions (Core, in batches); the DC text's bytes."""
    generated = records(count, seed)
    now = datetime.now(timezone.utc)
    dc_bytes = 0
    with catalog.engine.begin() as connection:
        ids = {}
        for name in COLLECTIONS:
            ids[name] = connection.execute(insert(Collection).values(
                name=name, title=name, access="public", created_at=now)
                .returning(Collection.id)).scalar()
        for start in range(0, count, 5000):
            aips, descriptions = [], []
            for n, record, roll, collection in itertools.islice(generated, 5000):
                dc_bytes += text_bytes(record)
                access, until = (("public", None) if roll < 0.85 else
                                 ("restricted", None) if roll < 0.95 else
                                 ("embargoed", date(2040, 1, 1)))
                aips.append({"id": n + 1, "identifier": f"aip-{n:08d}",
                             "ocfl_id": f"urn:uuid:{n}", "collection_id":
                             ids[collection], "location": "local",
                             "object_root": str(n), "current_version": 1,
                             "payload_digest": "x", "access": access, "embargo_until": until,
                             "total_size": 0, "file_count": 0, "created_at": now,
                             "updated_at": now})
                descriptions.append({"aip_id": n + 1, "record": record,
                                     "title": primary_title(record),
                                     "search_text": search_text(record), "updated_at": now})
            connection.execute(insert(Aip), aips)
            connection.execute(insert(DublinCoreRecord), descriptions)
    return dc_bytes


def index_bytes(catalog) -> int:
    with catalog.session() as session:
        return index_status(session).size_bytes


def comparable(query: str, filters: dict) -> bool:
    """Whether the LIKE scan can do what the search does: it had no filters and no dates."""
    return not filters and "date:" not in query


def like_scan(session, reader: Reader, query: str) -> int:
    """Kho's search before issue 11: every folded word as a substring, then a page."""
    words = fold_for_search(query.replace('"', " ").replace("*", " ")).split()
    words = [w.split(":", 1)[-1] for w in words]
    statement = (select(Aip.id).join(DublinCoreRecord, DublinCoreRecord.aip_id == Aip.id)
                 .where(readable_aips(reader),
                        and_(*(DublinCoreRecord.search_text.like(f"%{w}%") for w in words))))
    total = session.scalar(select(func.count()).select_from(statement.subquery()))
    session.execute(statement.order_by(DublinCoreRecord.title).limit(20)).all()
    return total


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    value = fn()
    return (time.perf_counter() - start) * 1000, value


def run_backend(url: str, count: int, like: bool, floor: bool = True) -> dict:
    catalog = open_catalog(url)
    catalog.upgrade()
    reader = Reader(None, date(2026, 11, 25))
    out: dict = {"records": count}
    seconds = time.perf_counter()
    dc_bytes = load(catalog, count)
    out["load_s"] = time.perf_counter() - seconds
    seconds = time.perf_counter()
    with catalog.session() as session:
        reindex(session)
    if catalog.engine.dialect.name == "postgresql":
        with catalog.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("VACUUM ANALYZE"))
    else:
        with catalog.engine.connect() as c:
            c.execute(text("ANALYZE"))
            c.commit()
    out["index_build_s"] = time.perf_counter() - seconds
    out["dc_text_mb"] = dc_bytes / 1e6
    out["index_mb"] = index_bytes(catalog) / 1e6
    out["size_ratio"] = out["index_mb"] / out["dc_text_mb"]
    plain, facets, likes, per_query = [], [], [], []
    kho_same: list[float] = []  # Kho's times (with facets) on the queries the scan also ran
    with catalog.session() as session:
        for query, filters in QUERIES:
            search(session, reader, query, filters=Filters(**filters))  # warm the cache
            p = [timed(lambda: search(session, reader, query, filters=Filters(**filters),
                                      with_facets=False))[0] for _ in range(REPEATS)]
            f_runs = [timed(lambda: search(session, reader, query, filters=Filters(**filters)))
                      for _ in range(REPEATS)]
            f = [ms for ms, _ in f_runs]
            # "10000+": more matched than the cap (KHO_SEARCH_TOTAL_CAP); those were ranked.
            total = f"{f_runs[0][1].total}{'' if f_runs[0][1].total_is_exact else '+'}"
            l_ms = None
            if like and comparable(query, filters):
                # Warmed like the search, and the better of two: the scan is not flattered.
                like_scan(session, reader, query)
                l_ms = min(timed(lambda: like_scan(session, reader, query))[0]
                           for _ in range(2))
            plain += p
            facets += f
            if l_ms is not None:
                likes.append(l_ms)
                kho_same.extend(f)
            per_query.append((query, filters, total, statistics.median(p), statistics.median(f),
                              l_ms))
        # The union catalogue's search (one result per work): its share of the same queries,
        # ranked and grouped over the first matches found, as Kho's own search is.
        union = []
        for query in UNION_QUERIES:
            search_works(session, reader, query, own_library="Kho")  # warm the cache
            union.append((query, statistics.median(
                timed(lambda: search_works(session, reader, query, own_library="Kho"))[0]
                for _ in range(REPEATS))))
    if floor:  # after Kho's queries, so its own tables were measured as they are alone
        vocabulary, out["floor_build_s"] = search_floor.build(
            catalog, search_floor.catalogued(catalog), search_floor.collections(catalog))
        out["floor_size"] = search_floor.size_bytes(catalog)
        out["floor"] = search_floor.measure(catalog, vocabulary, QUERIES, REPEATS)
    catalog.dispose()
    out["union"] = union
    out.update({"plain_p50": percentile(plain, 50), "plain_p95": percentile(plain, 95),
                "facets_p50": percentile(facets, 50), "facets_p95": percentile(facets, 95),
                "like_p50": percentile(likes, 50) if likes else None,
                "like_p95": percentile(likes, 95) if likes else None,
                "kho_same_p95": percentile(kho_same, 95) if kho_same else None,
                "queries": per_query})
    return out


def postgres_database():
    import psycopg
    name = f"kho_bench_{secrets.token_hex(4)}"
    admin = psycopg.connect(POSTGRES, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    return admin, name, f"postgresql+psycopg://{admin.info.user}@{admin.info.host}:" \
                        f"{admin.info.port}/{name}"


def report(backend: str, r: dict) -> None:
    print(f"\n== {backend}, {r['records']:,} records ==")
    print(f"load {r['load_s']:.1f} s; index build {r['index_build_s']:.1f} s; "
          f"Dublin Core text {r['dc_text_mb']:.1f} MB; index {r['index_mb']:.1f} MB "
          f"({r['size_ratio']:.2f}× the text; target ≤ {TARGET_SIZE_RATIO}×)")
    floor = r.get("floor")
    first_floor = next(iter(floor.values())) if floor else None  # FTS5, or stored vectors
    print(f"{'query':32} {'filters':28} {'hits':>8} {'ms':>8} {'+facets':>8} {'LIKE ms':>9}"
          + (f" {'floor: page':>11} {'counted':>8} {'ranked':>8}" if floor else ""))
    for n, (query, filters, total, p, f, like) in enumerate(r["queries"]):
        like_text = f"{like:9.1f}" if like is not None else "        -"
        floor_text = "".join(f" {first_floor['per_query'][n][name]:{w}.1f}" for name, w in
                             (("page", 11), ("counted", 8), ("ranked", 8))) if floor else ""
        print(f"{query:32} {json.dumps(filters, ensure_ascii=False)[:28]:28} {total:>8} "
              f"{p:8.1f} {f:8.1f} {like_text}{floor_text}")
    print(f"without facets: p50 {r['plain_p50']:.1f} ms, p95 {r['plain_p95']:.1f} ms "
          f"(target ≤ {TARGET_P95_MS['plain']} ms at 1M)")
    print(f"with facets:    p50 {r['facets_p50']:.1f} ms, p95 {r['facets_p95']:.1f} ms "
          f"(target ≤ {TARGET_P95_MS['facets']} ms at 1M)")
    if floor:
        report_floor(backend, r)
    print("union search (one result per work), median ms: " + ", ".join(
        f"{query} {ms:.1f}" for query, ms in r["union"]))
    if r["like_p50"] is not None:
        print(f"LIKE '%…%' scan, on the {len(r['queries']) - sum(q[5] is None for q in r['queries'])} "
              f"queries without filters or dates (it had neither): p50 {r['like_p50']:.1f} ms, "
              f"p95 {r['like_p95']:.1f} ms; Kho's p95 with facets on those ÷ LIKE p95 = "
              f"{r['kho_same_p95'] / r['like_p95']:.3f}")


def report_floor(backend: str, r: dict) -> None:
    """The bare engine's figures (search_floor.py) beside Kho's."""
    print(f"floor (search_floor.py: the same records and queries on {backend}'s own full text, "
          f"bare; no access, tones or facet counts), built in {r['floor_build_s']:.1f} s:")
    search_floor.report(r["floor"], r["floor_size"], r["dc_text_mb"], r["plain_p95"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", default="100000,1000000",
                        help="comma-separated record counts (default 100000,1000000)")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--no-like", action="store_true", help="skip the LIKE comparison")
    parser.add_argument("--no-floor", action="store_true",
                        help="skip the bare engine's floor (search_floor.py)")
    args = parser.parse_args()
    for count in (int(c) for c in args.records.split(",")):
        for backend in args.backends.split(","):
            if backend == "sqlite":
                with tempfile.TemporaryDirectory(prefix="kho-search-bench-") as folder:
                    report(backend, run_backend(f"sqlite:///{folder}/kho.sqlite3", count,
                                                not args.no_like, not args.no_floor))
            else:
                admin, name, url = postgres_database()
                try:
                    report(backend, run_backend(url, count, not args.no_like,
                                                not args.no_floor))
                finally:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    admin.close()
            sys.stdout.flush()


if __name__ == "__main__":
    main()
