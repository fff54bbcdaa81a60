"""The floor under every benchmark: what the machine needs for the bare work on the same bag.

* hash: a bare pool of 2 hashlib processes reading and hashing every file once (the least a
  validator or fixity checker can do);
* copy: `cp -r` of the bag then `sync` (the least a store of the bytes can do);
* their sum, for work that needs both (ingest to local storage);
* one pass: the same 2 processes copying every file in the kernel (copy_file_range) and
  hashing the copy as it is written, then `sync`: copying and hashing overlapped, the least
  any ingest to local storage can cost (no catalogue, no second digest, no start-up).

Each is timed as one whole process, like Kho and bagit.py.  As a script it is the hashing
floor itself:

    .venv/bin/python benchmarks/floor.py BAG [--algorithm sha512] [--processes 2] [--copy-to DIR]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from multiprocessing import Pool
from pathlib import Path

CHUNK = 1024 * 1024
HERE = Path(__file__).resolve()


def _hash_one(job: tuple[str, str]) -> int:
    path, algorithm = job
    h = hashlib.new(algorithm)
    with open(path, "rb", buffering=0) as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    h.hexdigest()
    return 1


def _copy_and_hash_one(job: tuple[str, str, str]) -> int:
    path, target, algorithm = job
    h = hashlib.new(algorithm)
    buffer = memoryview(bytearray(CHUNK))
    with open(path, "rb", buffering=0) as source, open(target, "xb+", buffering=0) as out:
        offset = 0
        while n := os.copy_file_range(source.fileno(), out.fileno(), CHUNK, offset, offset):
            os.preadv(out.fileno(), [buffer[:n]], offset)
            h.update(buffer[:n])
            offset += n
    h.hexdigest()
    return 1


def hash_tree(root: Path, algorithm: str, processes: int, copy_to: Path | None = None) -> int:
    files = [os.path.join(d, n) for d, _, names in os.walk(root) for n in names]
    files.sort(key=lambda path: -os.path.getsize(path))  # biggest first, as Kho does
    if copy_to is None:
        jobs, work = [(path, algorithm) for path in files], _hash_one
    else:
        for folder, _, _ in os.walk(root):
            (copy_to / os.path.relpath(folder, root)).mkdir(parents=True, exist_ok=True)
        jobs = [(path, str(copy_to / os.path.relpath(path, root)), algorithm) for path in files]
        work = _copy_and_hash_one
    with Pool(processes) as pool:
        done = sum(pool.imap_unordered(work, jobs, chunksize=max(1, len(jobs) // 400)))
    if copy_to is not None:
        os.sync()
    return done


def hash_floor(bag: Path, algorithm: str = "sha512", processes: int = 2,
               run=None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the bare hashing pool as one process."""
    run = run or _run
    seconds, _, code, cpu = run([sys.executable, str(HERE), str(bag), "--algorithm", algorithm,
                                 "--processes", str(processes)])
    assert code == 0, "the hashing floor failed"
    return seconds, cpu


def one_pass_floor(bag: Path, target: Path, algorithm: str = "sha512", processes: int = 2,
                   run=None) -> float:
    """Wall seconds of the bare pool copying and hashing every file in one pass, then
    `sync`, as one process (the least an ingest to local storage can cost)."""
    run = run or _run
    subprocess.run(["sync"], check=True)
    seconds, _, code, _ = run([sys.executable, str(HERE), str(bag), "--algorithm", algorithm,
                               "--processes", str(processes), "--copy-to", str(target)])
    assert code == 0, "the one-pass copy and hash failed"
    shutil.rmtree(target, ignore_errors=True)
    return seconds


def copy_floor(bag: Path, target: Path, run=None) -> float:
    """Wall seconds of `cp -r` of the bag plus `sync`, as one shell process."""
    run = run or _run
    subprocess.run(["sync"], check=True)  # earlier writes are not this copy's cost
    seconds, _, code, _ = run(["sh", "-c", 'cp -r "$0" "$1" && sync', str(bag), str(target)])
    assert code == 0, "cp -r + sync failed"
    shutil.rmtree(target, ignore_errors=True)
    return seconds


def report(label: str, kho_s: float, bagit_s: float | None, hash_s: float,
           copy_s: float | None = None, peer: str = "bagit.py",
           copy_name: str = "cp -r & sync") -> str:
    """One line: the floor and Kho's ratios to the peer and to the floor. ``copy_s``: the
    time of the bare store (``copy_name``: a copy, an unzip, an upload) the work also needs."""
    floor = hash_s + (copy_s or 0.0)
    parts = [f"{label}: floor = 2-process hash {hash_s:.2f} s"]
    if copy_s is not None:
        parts.append(f"+ {copy_name} {copy_s:.2f} s = {floor:.2f} s")
    parts.append(f"| kho {kho_s:.2f} s")
    if bagit_s:
        parts.append(f"÷ {peer} {bagit_s:.2f} s = {kho_s / bagit_s:.2f}")
    parts.append(f"| kho ÷ floor = {kho_s / floor:.2f}")
    if bagit_s:
        parts[-1] += f", {peer} ÷ floor = {bagit_s / floor:.2f}"
    return " ".join(parts)


def _run(cmd):
    sys.path.insert(0, str(HERE.parent))
    from validate import run
    return run(cmd)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bag", type=Path)
    parser.add_argument("--algorithm", default="sha512")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--copy-to", type=Path, help="also copy every file there, one pass")
    args = parser.parse_args()
    hash_tree(args.bag, args.algorithm, args.processes, args.copy_to)
    return 0


if __name__ == "__main__":
    sys.exit(main())
