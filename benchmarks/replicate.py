"""Replication benchmark: copying AIPs from local storage to an S3 server, whole processes.

  * `kho replicate --all` (one process: copies every AIP's OCFL object to the S3 location,
    then reads every copied file back and checks its sha512 against the inventory, the one
    hash of each file) ÷ a process running boto3 `upload_file` of the same files with the
    same number of threads (target ≤ 1.2), in the same run, on the same SeaweedFS server
    (started as the tests do);
  * the floor: that upload plus a boto3 download and hash of the same objects (the read-back
    that proves a replica, with the digest Kho uses: sha256 where the CPU has SHA
    instructions, else sha512), each a whole process;
  * peak RSS of `kho replicate` (bounded memory: target < 200 MB).

    PYTHONPATH=. .venv/bin/python benchmarks/replicate.py              # 4 AIPs x 50 x 5 MB = 1 GB
    PYTHONPATH=. .venv/bin/python benchmarks/replicate.py --scale 0.1  # small, to prove it works
"""
from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from ingest import titled  # noqa: E402  (the titled bag of the ingest benchmark)
from validate import VENV_BIN, build_bag, run  # noqa: E402  (timing and peak RSS of a process)

TARGET = 1.2
RSS_LIMIT_MB = 200
AIPS = 4

# The peer (benchmarks/s3_upload.py): the same files, boto3's own managed upload, the same
# number of threads, as one whole process.
UPLOAD = Path(__file__).with_name("s3_upload.py")
# The rest of the floor (benchmarks/s3_download.py --hash): every uploaded byte fetched back
# and hashed once, which is what proves a replica (Wellcome's storage service does the same).
DOWNLOAD = Path(__file__).with_name("s3_download.py")


def kho(args: list[str], env: dict[str, str]) -> tuple[float, float, int, float]:
    return run([str(VENV_BIN / "kho"), *args], env=env)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 1 GB")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each; the best counts")
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="kho-replicate-bench-"))
    try:
        return measure(args, tmp)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def measure(args, tmp: Path) -> int:
    from tests.fixtures.s3 import S3Server
    from repository.storage.locations import location_toml
    from repository.storage.replicas import copy_workers
    per_aip = max(2, int(50 * args.scale))
    config = tmp / "storage_config"
    config.mkdir()
    env = {**os.environ, "KHO_DATA_DIR": str(tmp / "kho"), "KHO_STORAGE_CONFIG": str(config),
           "PYTHONPATH": str(ROOT)}
    subprocess.run([str(VENV_BIN / "kho"), "collection", "add", "bench"], env=env,
                   check=True, capture_output=True)
    for n in range(AIPS):  # stored before the policy exists: one copy each, as before
        bag = titled(build_bag(tmp / f"bag{n}", [(f"aip{n}-trang-{i:04d}.tif", 5 * 1024**2)
                                                   for i in range(per_aip)], "sha512", n),
                     "sha512")
        subprocess.run([str(VENV_BIN / "kho"), "ingest", str(bag), "--collection", "bench"],
                       env=env, check=True, capture_output=True)
        shutil.rmtree(bag)
    storage_root = tmp / "kho" / "storage"
    files = [p for p in storage_root.rglob("*") if p.is_file()
             and not p.relative_to(storage_root).as_posix().startswith("extensions/")]
    total = sum(p.stat().st_size for p in files)
    print(f"{AIPS} AIPs, {len(files)} files, {total / 1024**2:.0f} MB in local storage")
    subprocess.run(["sync"], check=True)
    server = S3Server(tmp / "seaweedfs")
    server.start()
    threads = copy_workers(SimpleNamespace(kind="s3"))  # what kho replicate uses for S3
    # The digest kho replicate reads a copy back with: the fastest strong one on record
    # (every AIP records sha256 and sha512).
    from repository.storage.digests import fastest_strong_algorithms
    proof = next(a for a in fastest_strong_algorithms() if a in ("sha256", "sha512"))
    try:
        env.update(BENCH_S3_KEY=server.access_key, BENCH_S3_SECRET=server.secret_key)
        (config / "replication.toml").write_text('[default]\nlocations = ["local", "s3"]\n')
        best = {"kho": (float("inf"), 0.0), "boto3": (float("inf"), 0.0),
                "read back": (float("inf"), 0.0)}
        for _ in range(args.repeat):  # alternately, each into a fresh bucket
            bucket = server.new_bucket()
            (config / "s3.toml").write_text(location_toml("s3", server.location_table(
                bucket, access_key_env="BENCH_S3_KEY", secret_key_env="BENCH_S3_SECRET")))
            _forget_copies(tmp / "kho")
            seconds, rss, code, _ = kho(["replicate", "--all"], env)
            if code != 0:
                print("   ! kho replicate failed")
                return 1
            best["kho"] = (min(best["kho"][0], seconds), max(best["kho"][1], rss))
            server.remove_bucket(bucket)
            bucket = server.new_bucket()
            seconds, rss, code, _ = run([sys.executable, str(UPLOAD), str(storage_root),
                                         "--endpoint", server.endpoint_url, "--bucket", bucket,
                                         "--threads", str(threads), "--skip", "extensions/"],
                                        env=env)
            if code != 0:
                print("   ! the boto3 upload failed")
                return 1
            best["boto3"] = (min(best["boto3"][0], seconds), max(best["boto3"][1], rss))
            seconds, rss, code, _ = run([sys.executable, str(DOWNLOAD), "--endpoint",
                                         server.endpoint_url, "--bucket", bucket, "--threads",
                                         str(threads), "--hash", proof], env=env)
            if code != 0:
                print("   ! the boto3 read-back failed")
                return 1
            best["read back"] = (min(best["read back"][0], seconds), 0.0)
            server.remove_bucket(bucket)
    finally:
        server.kill()
    ratio = best["kho"][0] / best["boto3"][0]
    print(f"kho replicate --all {best['kho'][0]:.2f} s (copy, then read back and verify every "
          f"file) ÷ boto3 upload_file x{threads} threads {best['boto3'][0]:.2f} s = {ratio:.2f} "
          f"(target ≤ {TARGET}); {total / 1024**2 / best['kho'][0]:.0f} MB/s; "
          f"kho peak RSS {best['kho'][1]:.0f} MB (target < {RSS_LIMIT_MB})")
    floor = best["boto3"][0] + best["read back"][0]
    print(f"floor = boto3 upload {best['boto3'][0]:.2f} s + boto3 download and {proof} of the "
          f"same objects x{threads} threads {best['read back'][0]:.2f} s = {floor:.2f} s "
          f"({floor / best['boto3'][0]:.2f}× the upload) | kho ÷ floor = "
          f"{best['kho'][0] / floor:.2f}")
    print("targets met" if ratio <= TARGET and best["kho"][1] < RSS_LIMIT_MB
          else "some targets missed")
    return 0


def _forget_copies(data_dir: Path) -> None:
    """A fresh start for the next round: the catalogue forgets the copies made in S3."""
    for db in data_dir.glob("*.sqlite3"):
        with sqlite3.connect(db) as conn:
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name='aip_copies'").fetchone():
                conn.execute("DELETE FROM aip_copies")


if __name__ == "__main__":
    sys.exit(main())
