"""The floor under every benchmark: what the machine needs for the bare work on the same bag.

* hash: a bare pool of 2 hashlib processes reading and hashing every file once (the least a
  validator or fixity checker can do);
* copy: `cp -r` of the bag then `sync` (the least a store of the bytes can do);
* their sum, for work that needs both (ingest to local storage).

Each is timed as one whole process, like Kho and bagit.py.  As a script it is the hashing
floor itself:

    .venv/bin/python benchmarks/floor.py BAG [--algorithm sha512] [--processes 2]
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


def hash_tree(root: Path, algorithm: str, processes: int) -> int:
    files = [(os.path.join(d, n), algorithm) for d, _, names in os.walk(root) for n in names]
    files.sort(key=lambda job: -os.path.getsize(job[0]))  # biggest first, as Kho does
    with Pool(processes) as pool:
        return sum(pool.imap_unordered(_hash_one, files, chunksize=max(1, len(files) // 400)))


def hash_floor(bag: Path, algorithm: str = "sha512", processes: int = 2,
               run=None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of the bare hashing pool as one process."""
    run = run or _run
    seconds, _, code, cpu = run([sys.executable, str(HERE), str(bag), "--algorithm", algorithm,
                                 "--processes", str(processes)])
    assert code == 0, "the hashing floor failed"
    return seconds, cpu


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
    args = parser.parse_args()
    hash_tree(args.bag, args.algorithm, args.processes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
