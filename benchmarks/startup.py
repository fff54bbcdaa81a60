"""Start-up of `kho`: whole processes, as a user runs them (target ≤ 0.3 s each).

Times `kho --help` and `kho validate` of a one-file bag, next to a bare `python -c pass`
(the interpreter's own floor) and the peer `bagit.py --validate` of the same bag.  Best of
--repeat runs; CPU seconds (user+sys, from /usr/bin/time) do not depend on how busy the
machine is, wall seconds do.  `python -X importtime .venv/bin/kho --help` says where the
time goes.

    .venv/bin/python benchmarks/startup.py
"""
from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from validate import run  # noqa: E402  (wall seconds, peak RSS, exit code, CPU seconds)

VENV_BIN = Path(sys.executable).parent
TARGET_S = 0.3


def tiny_bag(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    data = "Trang 1 – Hà Nội\n".encode()
    (root / "data" / "trang 1.txt").write_bytes(data)
    (root / "bagit.txt").write_text("BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
    (root / "manifest-sha512.txt").write_text(
        f"{hashlib.sha512(data).hexdigest()}  data/trang 1.txt\n", encoding="utf-8")
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kho-startup-") as tmp:
        bag = str(tiny_bag(Path(tmp) / "bag"))
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "kho --help": [str(VENV_BIN / "kho"), "--help"],
            "kho validate (1 file)": [str(VENV_BIN / "kho"), "validate", bag],
            "bagit.py --validate (1 file)": [sys.executable, str(VENV_BIN / "bagit.py"),
                                             "--validate", "--quiet", bag],
        }
        best = {}
        for _ in range(args.repeat):
            for name, cmd in commands.items():
                seconds, rss, code, cpu = run(cmd)
                old = best.get(name, (float("inf"), float("inf"), 0.0, code))
                best[name] = (min(old[0], seconds), min(old[1], cpu), max(old[2], rss),
                              code or old[3])
    print(f"{'start-up (best of ' + str(args.repeat) + ')':32} {'wall s':>7} {'CPU s':>7} "
          f"{'RSS MB':>7} {'target':>7}")
    ok = True
    for name, (wall, cpu, rss, code) in best.items():
        target = TARGET_S if name.startswith("kho") else None
        good = target is None or (wall <= target and code == 0)
        ok &= good
        print(f"{name:32} {wall:7.3f} {cpu:7.3f} {rss:7.1f} "
              f"{'' if target is None else f'{target:7.2f}'} "
              f"{'' if target is None else ('ok' if good else 'MISSED')}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
