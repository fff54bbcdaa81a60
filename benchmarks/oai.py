"""OAI-PMH harvest speed: Kho's /oai against a pyoai provider on the same catalogue.

Fills a catalogue with 100,000 AIP descriptions (Vietnamese Dublin Core, 10 collections,
some restricted, some under embargo), serves it with Kho (gunicorn) and with the `oaipmh`
library's BatchingServer reading the same rows the usual way (LIMIT/OFFSET pages), both on
loopback with the same page size, and harvests every record with ListRecords. Prints
records/s, Kho ÷ pyoai, and the time of the first page against the last full page (Kho's
keyset tokens must keep the last page within 1.5× the first; OFFSET pages grow slower).

    .venv/bin/python benchmarks/oai.py [--records 100000] [--page-size 200] [--scale 0.1]
                                       [--database-url postgresql+psycopg://…] [--keep DIR]

Takes about two minutes at full scale on 2 cores.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OAI = "{http://www.openarchives.org/OAI/2.0/}"
COLLECTIONS = ["Hán-Nôm", "Địa bạ", "Báo chí xưa", "Sắc phong", "Gia phả", "Hương ước",
               "Văn bia", "Châu bản", "Bản đồ cổ", "Ảnh tư liệu"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                r.read()
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def fill_catalogue(url: str, records: int) -> int:
    """``records`` AIP descriptions straight into the catalogue; returns how many are harvestable."""
    from sqlalchemy import insert

    from repository.catalog import Aip, Collection, DublinCoreRecord, open_catalog
    from repository.catalog.set_specs import slug_for
    from repository.metadata import primary_title, search_text
    from repository.metadata.oai_dc import oai_dc_elements

    catalog = open_catalog(url)
    catalog.upgrade()
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    future = date.today() + timedelta(days=365)
    visible = 0
    with catalog.session() as session:
        session.execute(insert(Collection), [
            {"id": n + 1, "name": name, "title": name, "access": "public",
             "set_spec": slug_for(name), "created_at": start} for n, name in enumerate(COLLECTIONS)])
    batch = 5000
    for first in range(0, records, batch):
        aips, dcs = [], []
        for n in range(first, min(records, first + batch)):
            moment = start + timedelta(seconds=n * 300)
            access, until = ("embargoed", future) if n % 50 == 7 else \
                (("restricted", None) if n % 10 == 3 else ("public", None))
            visible += access != "embargoed"
            identifier = str(uuid.UUID(int=n + 1))
            record = {
                "title": [{"value": f"Địa bạ xã Hành Thiện, tổng Hành Cung – quyển {n}", "lang": "vi"},
                          {"value": f"Land register of Hành Thiện, volume {n}", "lang": "en"}],
                "creator": [{"value": "Quốc sử quán triều Nguyễn", "lang": "vi"}],
                "subject": [{"value": "Địa chính; ruộng đất; Nam Định", "lang": "vi"}],
                "description": [{"value": "Sổ địa bạ chép tay trên giấy dó, 42 tờ, chữ Hán-Nôm, "
                                          "ghi diện tích và chủ ruộng từng xứ đồng.", "lang": "vi"}],
                "date": [{"value": str(1805 + n % 100)}], "type": [{"value": "Text"}],
                "language": [{"value": "vi-Hani"}],
                "rights": [{"value": "http://rightsstatements.org/vocab/NoC-OKLR/1.0/"}]}
            aips.append({"id": n + 1, "identifier": identifier, "ocfl_id": f"urn:uuid:{identifier}",
                         "collection_id": n % len(COLLECTIONS) + 1, "location": "local",
                         "object_root": identifier, "current_version": 1,
                         "payload_digest": "", "access": access, "embargo_until": until,
                         "total_size": 0, "file_count": 0, "created_at": moment,
                         "updated_at": moment,
                         "oai_datestamp": max(moment, datetime.combine(
                             until, datetime.min.time(), timezone.utc)) if until else moment})
            dcs.append({"aip_id": n + 1, "record": record, "title": primary_title(record),
                        "search_text": search_text(record), "updated_at": moment,
                        "oai_dc": oai_dc_elements(record)})
        with catalog.session() as session:
            session.execute(insert(Aip), aips)
            session.execute(insert(DublinCoreRecord), dcs)
    catalog.dispose()
    return visible


def pyoai_app():
    """The peer gunicorn runs: pyoai's BatchingServer over the same rows, LIMIT/OFFSET pages."""
    from oaipmh import common
    from oaipmh.metadata import MetadataRegistry
    from oaipmh.server import BatchingServer, oai_dc_writer
    from sqlalchemy import create_engine, text

    engine = create_engine(os.environ["KHO_DATABASE_URL"])
    base = os.environ["BENCH_BASE_URL"]
    query = text(
        "SELECT a.identifier, a.oai_datestamp, c.set_spec, d.record FROM aips a "
        "JOIN collections c ON c.id = a.collection_id JOIN dublin_core_records d ON d.aip_id = a.id "
        "WHERE a.access != 'embargoed' ORDER BY a.oai_datestamp, a.identifier "
        "LIMIT :limit OFFSET :offset")

    class Library:
        def identify(self):
            return common.Identify("pyoai", base, "2.0", ["a@b.vn"], datetime(2025, 1, 1),
                                   "no", "YYYY-MM-DDThh:mm:ssZ", ["identity"])

        def listMetadataFormats(self, identifier=None):
            return [("oai_dc", "http://www.openarchives.org/OAI/2.0/oai_dc.xsd",
                     "http://www.openarchives.org/OAI/2.0/oai_dc/")]

        def listRecords(self, metadataPrefix, set=None, from_=None, until=None, cursor=0,
                        batch_size=10):
            import json
            with engine.connect() as connection:
                rows = connection.execute(query, {"limit": batch_size, "offset": cursor}).all()
            for identifier, stamp, spec, record in rows:
                record = json.loads(record) if isinstance(record, str) else record
                moment = stamp if isinstance(stamp, datetime) else datetime.fromisoformat(stamp)
                header = common.Header(None, f"oai:pyoai.local:{identifier}",
                                       moment.replace(tzinfo=None, microsecond=0), [spec], False)
                values = {k: [v["value"] for v in vs] for k, vs in record.items()}
                yield header, common.Metadata(None, values), None

    registry = MetadataRegistry()
    registry.registerWriter("oai_dc", oai_dc_writer)
    server = BatchingServer(Library(), registry,
                            resumption_batch_size=int(os.environ["BENCH_PAGE_SIZE"]))

    def app(environ, start_response):
        args = dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", "")))
        body = server.handleRequest(args)
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8")])
        return [body]
    return app


def start(work: Path, name: str, target: str, env: dict, port: int) -> subprocess.Popen:
    cmd = [str(Path(sys.executable).parent / "gunicorn"), "-k", "gthread", "-w", "1",
           "--threads", "2", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
           "--timeout", "300", target]
    return subprocess.Popen(cmd, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                            cwd=str(ROOT / "benchmarks"), start_new_session=True,
                            stdout=open(work / f"{name}.log", "ab"), stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def harvest(base: str, page_size: int) -> dict:
    """Every record with ListRecords; the seconds of each page."""
    from lxml import etree
    times, count, seen = [], 0, set()
    params = {"verb": "ListRecords", "metadataPrefix": "oai_dc"}
    began = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        with urllib.request.urlopen(f"{base}?{urllib.parse.urlencode(params)}", timeout=300) as r:
            body = r.read()
        root = etree.fromstring(body)
        records = root.findall(f"{OAI}ListRecords/{OAI}record")
        times.append((time.perf_counter() - t0, len(records)))
        count += len(records)
        seen.update(r.findtext(f"{OAI}header/{OAI}identifier") for r in records)
        token = root.find(f"{OAI}ListRecords/{OAI}resumptionToken")
        if token is None or not (token.text or "").strip():
            break
        params = {"verb": "ListRecords", "resumptionToken": token.text.strip()}
    total = time.perf_counter() - began
    full = [t for t, n in times if n == page_size]
    return {"records": count, "unique": len(seen), "seconds": total, "rate": count / total,
            "first": times[0][0], "last": full[-1] if full else times[-1][0],
            "pages": len(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--page-size", type=int, default=200)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args()
    records = max(1000, int(args.records * args.scale))
    work = args.keep or Path(tempfile.mkdtemp(prefix="kho-oai-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    url = args.database_url or f"sqlite:///{work / 'kho.sqlite3'}"
    print(f"filling the catalogue with {records:,} descriptions ({url.split(':')[0]}) …",
          flush=True)
    visible = fill_catalogue(url, records)
    env = {"KHO_DATA_DIR": str(work / "kho-data"), "KHO_DATABASE_URL": url,
           "KHO_OAI_PAGE_SIZE": str(args.page_size), "BENCH_PAGE_SIZE": str(args.page_size)}
    results = {}
    try:
        for name, target in (("Kho", "repository.web:create_app()"), ("pyoai", "oai:pyoai_app()")):
            port = free_port()
            base = f"http://127.0.0.1:{port}/oai"
            server = start(work, name, target, {**env, "BENCH_BASE_URL": base}, port)
            try:
                wait_for(f"{base}?verb=Identify")
                results[name] = result = harvest(base, args.page_size)
            finally:
                stop(server)
            print(f"{name:>6}: {result['records']:,} records ({result['unique']:,} distinct) in "
                  f"{result['pages']} pages, {result['seconds']:.1f} s = {result['rate']:,.0f} "
                  f"records/s; first page {result['first'] * 1000:.0f} ms, last full page "
                  f"{result['last'] * 1000:.0f} ms (×{result['last'] / result['first']:.2f})",
                  flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    kho, peer = results["Kho"], results["pyoai"]
    assert kho["unique"] == kho["records"] == visible, "Kho's harvest missed or repeated records"
    print(f"Kho ÷ pyoai (records/s): {kho['rate'] / peer['rate']:.2f}")
    print(f"Kho last page ÷ first page: {kho['last'] / kho['first']:.2f} (must be ≤ 1.5); "
          f"target ≥ 2,000 records/s: {'met' if kho['rate'] >= 2000 else 'NOT met'}")


if __name__ == "__main__":
    main()
