"""Fixity benchmark: Kho's check vs bagit.py on local files, vs plain boto3 on S3; peak RSS;
how choosing the next batch scales with the number of catalogued AIPs.

    .venv/bin/python benchmarks/fixity.py            # 1 GB of AIPs, 1,000 -> 100,000 AIPs
    .venv/bin/python benchmarks/fixity.py --scale 0.02   # small, to prove it works
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from repository.catalog import open_catalog  # noqa: E402
from repository.config import load_settings  # noqa: E402
from validate import run  # noqa: E402  (timing and peak RSS of a subprocess)


def make_bags(folder: Path, total_bytes: int, count: int) -> list[Path]:
    import json
    from tests.fixtures.aips import dublin_core
    from tests.fixtures.bags import make_bag, write_tag_manifest
    per_file = 16 * 1024 * 1024
    bags, left = [], total_bytes
    for n in range(count):
        share = total_bytes // count
        files, size = {}, 0
        while size < share:
            chunk = min(per_file, share - size)
            files[f"data/tệp {len(files):03d}.bin"] = os.urandom(chunk)
            size += chunk
        bag = make_bag(folder / f"bag{n}", files, algorithms=("sha256",), tag_manifest=False,
                       bag_info={"External-Identifier": f"{folder.name}-{n}"})
        (bag / "metadata").mkdir()
        (bag / "metadata" / "dc.json").write_text(json.dumps(dublin_core(f"Tập {n}"),
                                                             ensure_ascii=False), encoding="utf-8")
        write_tag_manifest(bag, ("sha256",))
        bags.append(bag)
        left -= size
    return bags


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def batch_choice_seconds(settings, aips: int) -> float:
    """Seconds for next_batch with ``aips`` catalogued AIPs, all checked at different times."""
    from sqlalchemy import insert
    from repository.catalog import Aip, Collection
    from repository.fixity.models import FixityAipStatus
    from repository.fixity.schedule import next_batch
    url = f"sqlite:///{settings.data_dir / f'sched-{aips}.sqlite3'}"
    catalog = open_catalog(url)
    catalog.upgrade()
    now = datetime.now(timezone.utc)
    with catalog.session() as session:
        session.execute(insert(Collection), [{"id": 1, "name": "c", "title": "", "access": "public",
                                              "created_at": now}])
        session.execute(insert(Aip), [{
            "id": i, "identifier": f"aip-{i}", "ocfl_id": f"urn:uuid:{i}", "collection_id": 1,
            "location": "local", "object_root": f"r/{i}", "payload_digest": "",
            "total_size": 10_000_000, "created_at": now, "updated_at": now}
            for i in range(1, aips + 1)])
        session.execute(insert(FixityAipStatus), [{
            "aip_id": i, "last_checked_at": now - timedelta(minutes=i * 7 % 100_000 + 1440),
            "last_outcome": "success"} for i in range(1, aips + 1)])
    with catalog.session() as session:
        seconds, batch = timed(lambda: next_batch(session, settings, now=now))
    catalog.dispose()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 1 GB, 100,000 AIPs")
    parser.add_argument("--no-s3", action="store_true")
    args = parser.parse_args()
    total = int(1024**3 * args.scale)
    tmp = Path(tempfile.mkdtemp(prefix="kho-fixity-bench-"))
    settings = load_settings({}, data_dir=tmp / "kho", storage_config_dir=tmp / "storage_config")
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    from repository.fixity import check_aips
    from repository.ingest.pipeline import ingest_package
    bags = make_bags(tmp / "bags", total, count=8)
    from repository.catalog.collections import add_collection
    with catalog.session() as session:  # collections are made on purpose
        add_collection(session, "bench")
        add_collection(session, "bench-s3")
    ids = [ingest_package(b, settings=settings, catalog=catalog, collection="bench").identifier
           for b in bags]
    print(f"{len(ids)} AIPs, {total / 1024**2:.0f} MiB of payload")
    subprocess.run(["sync"])
    bagit_s, _ = timed(lambda: [subprocess.run(
        [str(Path(sys.executable).parent / "bagit.py"), "--validate", "--processes", "2", str(b)],
        check=True, capture_output=True) for b in bags])
    for mode in ("all", "fastest"):
        s = settings.replace(fixity_digests=mode)
        kho_s, summary = timed(lambda: check_aips(s, catalog, ids, write_chain_head=False))
        assert not summary.failed
        print(f"local, digests={mode}: Kho {kho_s:.2f}s, bagit.py --validate --processes 2 "
              f"{bagit_s:.2f}s, ratio {kho_s / bagit_s:.2f} (target <= 1.1)")
    # The checker's own memory: `kho fixity run` as its own process (this one holds bags).
    env = {**os.environ, "KHO_DATA_DIR": str(settings.data_dir),
           "KHO_STORAGE_CONFIG": str(settings.storage_config_dir)}
    seconds, rss_mb, code, _ = run([str(Path(sys.executable).parent / "kho"), "fixity", "run",
                                    "--all"], env=env)
    print(f"kho fixity run --all as a process: {seconds:.2f}s, exit {code}, "
          f"peak RSS {rss_mb:.0f} MB (target < 200)")
    if not args.no_s3:
        from tests.fixtures.s3 import S3Server
        from repository.storage.locations import location_toml
        server = S3Server(tmp / "seaweedfs")
        server.start()
        try:
            os.environ["KHO_TEST_S3_ACCESS_KEY"] = server.access_key
            os.environ["KHO_TEST_S3_SECRET_KEY"] = server.secret_key
            bucket = server.new_bucket()
            settings.storage_config_dir.mkdir(parents=True, exist_ok=True)
            (settings.storage_config_dir / "s3.toml").write_text(
                location_toml("s3", server.location_table(bucket)), encoding="utf-8")
            s3_ids = [ingest_package(b, settings=settings, catalog=catalog, collection="bench-s3",
                                     location="s3", new_version=False).identifier
                      for b in make_bags(tmp / "bags-s3", total, count=8)]
            client = server.client()
            keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(
                Bucket=bucket) for o in page.get("Contents", [])]

            def drain(key):
                body = client.get_object(Bucket=bucket, Key=key)["Body"]
                while body.read(4 * 1024 * 1024):
                    pass
            plain_s, _ = timed(lambda: list(ThreadPoolExecutor(8).map(drain, keys)))
            for mode in ("all", "fastest"):
                s = settings.replace(fixity_digests=mode)
                kho_s, summary = timed(lambda: check_aips(s, catalog, s3_ids,
                                                          write_chain_head=False))
                assert not summary.failed
                print(f"S3, digests={mode}: Kho {kho_s:.2f}s, parallel boto3 download "
                      f"{plain_s:.2f}s, ratio {kho_s / plain_s:.2f} (target <= 1.25)")
        finally:
            server.kill()
    for n in (1000, int(100_000 * max(args.scale, 0.1))):
        print(f"choosing the next batch among {n:,} AIPs: "
              f"{batch_choice_seconds(settings, n) * 1000:.1f} ms")
    catalog.dispose()


if __name__ == "__main__":
    main()
