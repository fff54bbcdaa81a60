"""When hashing may fork children (repository/forking.py): never beside another thread or
once kombu is loaded, where a forked child can wait forever on what it inherited."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(code: str) -> dict:
    """``code`` in a fresh single-threaded interpreter; it prints one JSON line."""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


PROBE = """
import json, sys, threading
from repository import forking
{setup}
print(json.dumps({{"fork": forking.fork_context() is not None}}))
"""


def test_a_single_threaded_command_may_fork():
    assert run(PROBE.format(setup="")) == {"fork": True}


def test_a_process_with_a_second_thread_does_not_fork():
    setup = "stop = threading.Event(); threading.Thread(target=stop.wait, daemon=True).start()"
    assert run(PROBE.format(setup=setup)) == {"fork": False}


def test_a_process_that_loaded_kombu_does_not_fork():
    # A Celery worker running a deposit, or a web server that queued one: kombu's after-fork
    # hook makes a forked child read the parent's broker socket.
    assert run(PROBE.format(setup="import kombu")) == {"fork": False}


VALIDATE = """
import json, sys
from pathlib import Path
from repository.ingest import validate as v
from tests.fixtures.bags import make_bag
{setup}
forked = []
real = v.fork_context
def watched():
    context = real()
    forked.append(context is not None)
    return context
v.fork_context = watched
root = make_bag(Path(sys.argv[1]) if len(sys.argv) > 1 else Path({folder!r}),
                {{f"data/trang/{{i:04d}} – ảnh.txt": f"trang {{i}}".encode() for i in range(3000)}})
(root / "data/trang/0123 – ảnh.txt").write_bytes(b"bad")
report = v.validate_bag(root, processes=2).report
print(json.dumps({{"forked": forked, "errors": sorted((p.code, p.path) for p in report.errors)}}))
"""


def test_validation_forks_in_a_command_and_uses_threads_beside_kombu(tmp_path):
    broken = [["K303", "data/trang/0123 – ảnh.txt"], ["K310", "bag-info.txt"]]
    alone = run(VALIDATE.format(setup="", folder=str(tmp_path / "a")))
    assert alone == {"forked": [True], "errors": broken}
    beside = run(VALIDATE.format(setup="import kombu", folder=str(tmp_path / "b")))
    assert beside == {"forked": [False], "errors": broken}
