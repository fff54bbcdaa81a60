"""Fixity benchmark, whole processes on one bag as a user runs them.

  * local: `kho fixity run --all` (one process) ÷ `bagit.py --validate --processes 2` of the
    same bag (target ≤ 1.1), and both against the floor: a bare pool of 2 hashlib processes
    reading and hashing every file once (sha512, and sha256: by default Kho computes the
    fastest strong digest on record, sha256 on CPUs with SHA instructions); Kho also with
    KHO_FIXITY_DIGESTS=all (sha512, as bagit.py);
  * s3: `kho fixity run` of the same bag stored in SeaweedFS ÷ a parallel boto3 download of
    the same objects (target ≤ 1.25), and the floor: the same download hashing every body
    (sha512), each one whole process (benchmarks/s3_download.py);
  * peak RSS of `kho fixity run` (target < 200 MB);
  * how choosing the next batch scales with the number of catalogued AIPs.

    .venv/bin/python benchmarks/fixity.py               # 200 x 5 MB = 1 GB, 100,000 AIPs
    .venv/bin/python benchmarks/fixity.py --scale 0.1   # small, to prove it works
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from floor import hash_floor, report  # noqa: E402  (the floor under the work)
from ingest import titled  # noqa: E402  (the same titled bag as the ingest benchmark)
from validate import VENV_BIN, build_bag, run  # noqa: E402  (timing and peak RSS of a process)

TARGETS = {"local": 1.1, "s3": 1.25}
RSS_LIMIT_MB = 200


def kho(args: list[str], env: dict[str, str]) -> tuple[float, float, int, float]:
    return run([str(VENV_BIN / "kho"), *args], env=env)


def ingest(bag: Path, env: dict[str, str], location: str) -> str:
    """Store the bag (not timed); the AIP identifier."""
    # Collections are made on purpose; a second `add` of the same name is refused, harmlessly.
    subprocess.run([str(VENV_BIN / "kho"), "collection", "add", "bench"], env=env,
                   capture_output=True)
    out = subprocess.run([str(VENV_BIN / "kho"), "ingest", str(bag), "--collection", "bench",
                          "--location", location], env=env, check=True, capture_output=True,
                         text=True)
    return out.stdout.strip().splitlines()[-1]


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
    from repository.catalog import open_catalog
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 1 GB, 100,000 AIPs")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each; the best counts")
    parser.add_argument("--no-s3", action="store_true")
    parser.add_argument("--no-local", action="store_true", help="only the S3 comparison")
    parser.add_argument("--keep", action="store_true", help="keep the bag and the data folder")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kho-fixity-bench-"))
    try:
        return measure(args, tmp)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def measure(args, tmp: Path) -> int:
    count = max(2, int(200 * args.scale))
    bag = titled(build_bag(tmp / "bag", [(f"trang-{i:04d}.tif", 5 * 1024**2)
                                         for i in range(count)], "sha512", 3), "sha512")
    print(f"bag: {count} x 5 MB = {count * 5} MB, sha512 manifest")
    env = {**os.environ, "KHO_DATA_DIR": str(tmp / "kho"),
           "KHO_STORAGE_CONFIG": str(tmp / "storage_config")}
    (tmp / "storage_config").mkdir()
    failed = False
    if not args.no_local:
        failed = local_comparison(bag, env, args.repeat)
    if not args.no_s3:
        failed |= s3_comparison(tmp, bag, env, args.repeat)
    settings = _settings(tmp)
    for n in (1000, int(100_000 * max(args.scale, 0.1))):
        print(f"choosing the next batch among {n:,} AIPs: "
              f"{batch_choice_seconds(settings, n) * 1000:.1f} ms")
    print("targets met" if not failed else "some targets missed")
    return 0


def local_comparison(bag: Path, env: dict[str, str], repeat: int) -> bool:
    """`kho fixity run --all` of the bag in local storage ÷ bagit.py, and the floor."""
    ingest(bag, env, "local")
    subprocess.run(["sync"], check=True)
    best: dict[str, tuple[float, float]] = {}
    for _ in range(repeat):  # alternately; the first round also warms the page cache
        for name, measure in (
                ("kho", lambda: kho(["fixity", "run", "--all"], env)),
                ("bagit", lambda: run([sys.executable, str(VENV_BIN / "bagit.py"), "--validate",
                                       "--processes", "2", "--quiet", str(bag)])),
                ("floor", lambda: (hash_floor(bag, "sha512", 2, run)[0], 0.0)),
                # The default computes the fastest strong digest on record (sha256 on CPUs
                # with SHA instructions); sha512, as bagit.py, with KHO_FIXITY_DIGESTS=all.
                ("kho all", lambda: kho(["fixity", "run", "--all"],
                                        {**env, "KHO_FIXITY_DIGESTS": "all"})),
                ("floor sha256", lambda: (hash_floor(bag, "sha256", 2, run)[0], 0.0))):
            seconds, rss, *_ = measure()
            old = best.get(name, (float("inf"), 0.0))
            best[name] = (min(old[0], seconds), max(old[1], rss))
    ratio = best["kho"][0] / best["bagit"][0]
    failed = ratio > TARGETS["local"] or best["kho"][1] > RSS_LIMIT_MB
    print(report("local", best["kho"][0], best["bagit"][0], best["floor"][0],
                 peer="bagit.py --validate --processes 2")
          + f" (target ≤ {TARGETS['local']}), kho peak RSS {best['kho'][1]:.0f} MB")
    print(f"local: the floor with sha256, the digest the default computes here: "
          f"{best['floor sha256'][0]:.2f} s, kho ÷ it = "
          f"{best['kho'][0] / best['floor sha256'][0]:.2f} | with KHO_FIXITY_DIGESTS=all "
          f"(sha512, as bagit.py): kho {best['kho all'][0]:.2f} s ÷ bagit.py = "
          f"{best['kho all'][0] / best['bagit'][0]:.2f}, ÷ the sha512 floor = "
          f"{best['kho all'][0] / best['floor'][0]:.2f}")
    return failed


def _settings(tmp: Path):
    from repository.config import load_settings
    return load_settings({}, data_dir=tmp / "kho", storage_config_dir=tmp / "storage_config")


def s3_comparison(tmp: Path, bag: Path, env: dict[str, str], repeat: int) -> bool:
    """`kho fixity run` of the bag stored in SeaweedFS ÷ boto3 downloading the same objects."""
    from tests.fixtures.s3 import S3Server
    from repository.storage.locations import location_toml
    server = S3Server(tmp / "seaweedfs")
    server.start()
    try:
        bucket = server.new_bucket()
        (tmp / "storage_config" / "s3.toml").write_text(location_toml("s3", server.location_table(
            bucket, access_key_env="BENCH_S3_KEY", secret_key_env="BENCH_S3_SECRET")),
            encoding="utf-8")
        # Its own catalogue: the same bag in the local one would be refused as a duplicate.
        s3_env = {**env, "KHO_DATA_DIR": str(tmp / "kho-s3"), "BENCH_S3_KEY": server.access_key,
                  "BENCH_S3_SECRET": server.secret_key}
        s3_id = ingest(bag, s3_env, "s3")
        threads = 8  # what Kho's checker uses on S3 here (check.default_threads: max(8, 4 × cores))
        peer_cmd = [sys.executable, str(ROOT / "benchmarks" / "s3_download.py"),
                    "--endpoint", server.endpoint_url, "--bucket", bucket,
                    "--threads", str(threads)]
        best = {"kho": float("inf"), "peer": float("inf"), "floor": float("inf"),
                "kho all": float("inf"), "floor sha256": float("inf")}
        rss = 0.0
        for _ in range(repeat):  # alternately, each a whole process
            best["peer"] = min(best["peer"], run(peer_cmd, env=s3_env)[0])
            best["floor"] = min(best["floor"], run(peer_cmd + ["--hash", "sha512"], env=s3_env)[0])
            seconds, peak, code, _ = kho(["fixity", "run", "--aip", s3_id], s3_env)
            assert code == 0, "kho fixity run found a problem in a fresh AIP"
            best["kho"], rss = min(best["kho"], seconds), max(rss, peak)
            best["floor sha256"] = min(best["floor sha256"],
                                       run(peer_cmd + ["--hash", "sha256"], env=s3_env)[0])
            best["kho all"] = min(best["kho all"], kho(
                ["fixity", "run", "--aip", s3_id], {**s3_env, "KHO_FIXITY_DIGESTS": "all"})[0])
        ratio = best["kho"] / best["peer"]
        print(f"s3: floor = boto3 download + sha512, {threads} threads {best['floor']:.2f} s "
              f"| kho fixity run {best['kho']:.2f} s ÷ boto3 download, {threads} threads "
              f"{best['peer']:.2f} s = {ratio:.2f} (target ≤ {TARGETS['s3']}) | kho ÷ floor = "
              f"{best['kho'] / best['floor']:.2f} (all whole processes), kho peak RSS {rss:.0f} MB")
        print(f"s3: the floor with sha256, the digest the default computes here: "
              f"{best['floor sha256']:.2f} s, kho ÷ it = {best['kho'] / best['floor sha256']:.2f}"
              f" | with KHO_FIXITY_DIGESTS=all (sha512): kho {best['kho all']:.2f} s ÷ the "
              f"download = {best['kho all'] / best['peer']:.2f}")
        return ratio > TARGETS["s3"] or rss > RSS_LIMIT_MB
    finally:
        server.kill()


if __name__ == "__main__":
    sys.exit(main())
