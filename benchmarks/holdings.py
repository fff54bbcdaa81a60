"""Time a 100,000-item holdings register import and the programme dashboard's answer.

Targets (issue 13): the import under a minute, the dashboard under a second, on this
machine. The peer is the floor for loading the same rows: Python's csv reader feeding
sqlite3 ``executemany`` into a table of the same columns, with no checks at all; Kho's
ratio to it says what the checks, the all-or-nothing transaction and SQLAlchemy cost.

Builds its own data in a temporary folder: a CSV register of 100,000 items (Vietnamese
titles, three collections, rare/pages/priority/status), imported with `kho holdings import`
as a subprocess, then imported again (every item updated by shelfmark). Then 30,000 AIPs are
put in the catalogue, linked by shelfmark and spread over 24 months, and GET /holdings and
GET /api/v1/holdings/report are timed (best and median of --repeat).

    .venv/bin/python benchmarks/holdings.py --scale 0.1        # quick check
    .venv/bin/python benchmarks/holdings.py                    # 100,000 items
    .venv/bin/python benchmarks/holdings.py --postgres         # the catalogue on PostgreSQL
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
LIBRARY = "Thư viện tỉnh Nam Định"
IMPORT_TARGET_S, DASHBOARD_TARGET_S = 60.0, 1.0
WORDS = ("Đại Nam", "thực lục", "Hà Nội", "Truyện Kiều", "Nam Phong", "tạp chí", "địa bạ", "xã",
         "Lĩnh Nam", "chích quái", "phong tục", "hương ước", "gia phả", "họ Nguyễn", "văn tế")


def write_register(path: Path, count: int, seed: int = 13) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["ký hiệu xếp giá", "nhan đề", "tác giả", "năm", "quý hiếm", "số trang",
                         "sưu tập", "ưu tiên", "trạng thái"])
        for n in range(count):
            writer.writerow([f"HN.{n:06d}", " ".join(rng.sample(WORDS, 3)), "Khuyết danh",
                             f"{rng.randint(1700, 1990)}", rng.choice(["có", "không"]),
                             rng.randint(4, 800), rng.choice(["Hán Nôm", "Báo cũ", "Địa chí"]),
                             rng.choice(["cao", "trung bình", "thấp", ""]),
                             rng.choice(["", "", "đã chọn", "đang số hoá"])])


def time_import(path: Path, env: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the kho process): CPU time does not grow when other
    work shares the machine, wall time does."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    run = subprocess.run([str(VENV_BIN / "kho"), "holdings", "import", str(path), "--library", LIBRARY],
                         env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode != 0:
        sys.exit(f"kho holdings import failed:\n{run.stdout}{run.stderr}")
    print(f"    {run.stdout.strip()}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def time_floor(path: Path, folder: Path) -> float:
    """The peer: csv + sqlite3 executemany into a plain table, one transaction, no checks."""
    started = time.perf_counter()
    db = sqlite3.connect(folder / "floor.sqlite3")
    db.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, shelfmark TEXT UNIQUE, title TEXT, "
               "creator TEXT, date TEXT, rare INTEGER, pages INTEGER, collection TEXT, "
               "priority TEXT, status TEXT)")
    with open(path, encoding="utf-8", newline="") as source:
        rows = csv.reader(source)
        next(rows)
        db.executemany("INSERT INTO items (shelfmark, title, creator, date, rare, pages, collection, "
                       "priority, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       ((r[0], r[1], r[2], r[3], r[4] == "có", int(r[5]), r[6], r[7], r[8]) for r in rows))
    db.commit()
    db.close()
    return time.perf_counter() - started


def add_linked_aips(url: str, count: int, items: int, seed: int = 7) -> None:
    """``count`` AIPs in the catalogue, each carrying an item's shelfmark, over 24 months."""
    from sqlalchemy import insert, select

    from repository.catalog import Aip, Collection, open_catalog
    from repository.holdings import AipShelfmark
    rng = random.Random(seed)
    catalog = open_catalog(url)
    now = datetime.now(timezone.utc)
    with catalog.session() as session:
        session.add(Collection(name="Số hoá"))
        session.flush()
        collection = session.scalar(select(Collection.id).where(Collection.name == "Số hoá"))
        chosen = rng.sample(range(items), count)
        rows = [{"identifier": str(uuid.uuid4()), "collection_id": collection, "location": "local",
                 "object_root": f"x/{n}", "current_version": 1, "external_identifier": f"HN.{n:06d}",
                 "payload_digest": f"sha256:{n}", "access": rng.choice(["public", "public", "restricted", "embargoed"]),
                 "total_size": 0, "file_count": 0,
                 "created_at": now - timedelta(days=rng.randint(0, 730)), "updated_at": now}
                for n in chosen]
        for row in rows:
            row["ocfl_id"] = f"urn:uuid:{row['identifier']}"
        session.execute(insert(Aip), rows)
        ids = dict(session.execute(select(Aip.external_identifier, Aip.id)).all())
        session.execute(insert(AipShelfmark), [
            {"aip_id": ids[f"HN.{n:06d}"], "shelfmark": f"HN.{n:06d}",
             "shelfmark_key": f"hn.{n:06d}", "organization_key": "", "field": "External-Identifier"}
            for n in chosen])
    catalog.dispose()


def time_dashboard(settings, repeat: int) -> dict[str, list[float]]:
    from repository.catalog import add_user
    from repository.web import create_app
    app = create_app(settings)
    with app.extensions["kho"].catalog.session() as session:
        _, token = add_user(session, f"bench-{uuid.uuid4().hex[:6]}", "admin")
    client = app.test_client()
    times: dict[str, list[tuple[float, float]]] = {"/holdings": [], "/api/v1/holdings/report": []}
    for _ in range(repeat):
        for url in times:
            started, cpu = time.perf_counter(), time.process_time()
            answer = client.get(url, headers={"Authorization": f"Bearer {token}"})
            times[url].append((time.perf_counter() - started, time.process_time() - cpu))
            if answer.status_code != 200:
                sys.exit(f"{url} answered {answer.status_code}: {answer.data[:300]!r}")
    app.extensions["kho"].catalog.dispose()
    return times


POSTGRES_ADMIN = "host=127.0.0.1 port=5432 dbname=test user=postgres"


def postgres_url() -> str:
    import psycopg
    name = f"kho_bench_holdings_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_postgres(url: str) -> None:
    import psycopg
    with psycopg.connect(POSTGRES_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 100,000 items")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", action="store_true", help="catalogue on PostgreSQL at 127.0.0.1")
    options = parser.parse_args()
    items = max(100, int(100_000 * options.scale))
    with tempfile.TemporaryDirectory(prefix="kho-bench-holdings-") as tmp:
        folder = Path(tmp)
        url = postgres_url() if options.postgres else f"sqlite:///{folder / 'kho.sqlite3'}"
        try:
            run(options, folder, url, items)
        finally:
            if options.postgres:
                drop_postgres(url)


def run(options, folder: Path, url: str, items: int) -> None:
    from repository.config import load_settings
    settings = load_settings({}, data_dir=folder / "data", database_url=url)
    env = {**os.environ, "KHO_DATA_DIR": str(settings.data_dir), "KHO_DATABASE_URL": url}
    register = folder / "so-dang-ky.csv"
    write_register(register, items)
    print(f"holdings register: {items:,} items ({register.stat().st_size / 1e6:.1f} MB CSV), "
          f"catalogue on {'PostgreSQL' if options.postgres else 'SQLite'}")
    subprocess.run([str(VENV_BIN / "kho"), "catalog", "upgrade"], env=env, check=True,
                   capture_output=True)
    print(f"  load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(wall times grow with it; CPU times do not)")
    (first, first_cpu), (again, again_cpu) = time_import(register, env), time_import(register, env)
    floor_cpu = time.process_time()
    floor = time_floor(register, folder)
    floor_cpu = time.process_time() - floor_cpu
    for what, wall, cpu in (("create", first, first_cpu), ("update", again, again_cpu)):
        print(f"  import ({what}):  wall {wall:6.2f} s, CPU {cpu:6.2f} s   target < "
              f"{IMPORT_TARGET_S:.0f} s {'ok' if wall < IMPORT_TARGET_S else 'MISSED'}")
    print(f"  floor (csv + sqlite3 executemany, no checks): wall {floor:.2f} s, CPU "
          f"{floor_cpu:.2f} s; Kho/floor = {first / floor:.1f}x wall, "
          f"{first_cpu / max(floor_cpu, 1e-3):.1f}x CPU")
    aips = int(items * 0.3)
    add_linked_aips(url, aips, items)
    times = time_dashboard(settings, options.repeat)
    for path, values in times.items():
        walls, cpus = [w for w, _c in values], [c for _w, c in values]
        best, median = min(walls), statistics.median(walls)
        print(f"  GET {path:<25} wall best {best * 1000:7.1f} ms, median {median * 1000:7.1f} ms;"
              f" CPU median {statistics.median(cpus) * 1000:7.1f} ms ({aips:,} linked AIPs)   "
              f"target < {DASHBOARD_TARGET_S:.0f} s {'ok' if median < DASHBOARD_TARGET_S else 'MISSED'}")
    print(f"  load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
