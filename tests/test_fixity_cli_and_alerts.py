"""`kho fixity run|report`, alerts by e-mail and webhook, the chain head in storage."""
from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import os
import socketserver
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select

from repository.catalog import PremisEvent, open_catalog
from repository.cli import kho
from repository.ingest.pipeline import ingest_package
from repository.storage import get_location
from tests.fixtures.aips import add_collections, make_page_bag

PAGE = "v1/content/data/trang 1.jpg"


class SmtpSink(socketserver.ThreadingTCPServer):
    """A tiny SMTP server on loopback that keeps every message it is given."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self):
        self.messages: list[str] = []

        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                self.wfile.write(b"220 sink ESMTP\r\n")
                data_mode, lines = False, []
                for raw in self.rfile:
                    line = raw.decode("utf-8", "replace").rstrip("\r\n")
                    if data_mode:
                        if line == ".":
                            message = email.message_from_string(
                                "\n".join(lines), policy=email.policy.default)
                            sink.messages.append(f"{message['Subject']}\n{message.get_content()}")
                            data_mode, lines = False, []
                            self.wfile.write(b"250 ok\r\n")
                        else:
                            lines.append(line[1:] if line.startswith("..") else line)
                        continue
                    verb = line.split(" ", 1)[0].upper()
                    if verb == "DATA":
                        data_mode = True
                        self.wfile.write(b"354 go on\r\n")
                    elif verb == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 ok\r\n")

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


class WebhookSink(HTTPServer):
    def __init__(self):
        self.posts: list[dict] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sink.posts.append(json.loads(body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.fixture
def sinks():
    smtp, hook = SmtpSink(), WebhookSink()
    yield smtp, hook
    smtp.shutdown(), hook.shutdown()
    smtp.server_close(), hook.server_close()


@pytest.fixture
def repo(settings, tmp_path, sinks):
    """Two ingested AIPs on the embedded default, and the environment `kho` sees."""
    smtp, hook = sinks
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    add_collections(catalog, "Hán-Nôm", "Báo chí")
    aips = [ingest_package(make_page_bag(tmp_path / f"bag{n}", pages=2, size=(60, 80),
                                         external_id=f"HN-{n}"),
                           settings=settings, catalog=catalog, collection=name)
            for n, name in ((1, "Hán-Nôm"), (2, "Báo chí"))]
    env = {"KHO_DATA_DIR": str(settings.data_dir),
           "KHO_STORAGE_CONFIG": str(settings.storage_config_dir),
           "KHO_DATABASE_URL": settings.catalog_url,
           "KHO_SMTP_HOST": "127.0.0.1", "KHO_SMTP_PORT": str(smtp.server_address[1]),
           "KHO_ALERT_EMAIL": "auditor@thuvien.example",
           "KHO_ALERT_WEBHOOK": f"http://127.0.0.1:{hook.server_address[1]}/hook"}
    yield aips, catalog, env, get_location(settings, "local")
    catalog.dispose()


def kho_cli(env, *args):
    return CliRunner().invoke(kho, list(args), env=env, catch_exceptions=False)


def damage(storage, aip) -> None:
    key = f"{aip.object_root}/{PAGE}"
    with storage.open(key) as stream:
        data = stream.read()
    storage.put(key, io.BytesIO(data[:-1] + bytes([data[-1] ^ 1])), algorithms=())


def test_run_exits_0_when_intact_and_1_with_one_line_per_problem(repo):
    aips, _, env, storage = repo
    ok = kho_cli(env, "fixity", "run", "--all")
    assert ok.exit_code == 0, ok.output
    assert "2 AIPs checked" in ok.output
    damage(storage, aips[0])
    # A real `kho` process, as a user runs it: it hashes in forked processes (this test
    # process has server threads, so the in-process run above used threads).
    bad = subprocess.run([str(Path(sys.executable).parent / "kho"), "fixity", "run", "--all"],
                         env={**os.environ, **env}, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1, bad.stderr[-2000:]
    problem_lines = [l for l in bad.stdout.splitlines() if l.startswith("CHANGED")]
    assert len(problem_lines) == 1
    assert aips[0].identifier in problem_lines[0] and "trang 1.jpg" in problem_lines[0]
    assert "expected" in problem_lines[0] and "actual" in problem_lines[0]
    as_json = json.loads(kho_cli(env, "fixity", "run", "--collection", "Hán-Nôm", "--json").output)
    assert [a["identifier"] for a in as_json["aips"]] == [aips[0].identifier]
    assert kho_cli(env, "fixity", "run").exit_code == 2  # no selection: usage error


def test_failure_alert_mails_and_posts_the_aip_file_digests_and_location(repo, sinks):
    aips, _, env, storage = repo
    smtp, hook = sinks
    damage(storage, aips[1])
    assert kho_cli(env, "fixity", "run", "--aip", aips[1].identifier).exit_code == 1
    assert len(smtp.messages) == 1 and len(hook.posts) == 1
    mail = smtp.messages[0]
    assert aips[1].identifier in mail and "trang 1.jpg" in mail and "local" in mail
    post = hook.posts[0]
    assert post["aip"] == aips[1].identifier and post["location"] == "local"
    failure = post["failures"][0]
    assert failure["file"] == PAGE and failure["outcome"] == "changed"
    assert failure["expected"] in mail and failure["actual"] in mail
    assert failure["expected"] != failure["actual"]


def test_persistent_storage_error_alerts_once_after_the_grace_time(repo, sinks, settings):
    aips, catalog, env, storage = repo
    smtp, hook = sinks
    moved = Path(str(storage.root) + "-away")
    Path(storage.root).rename(moved)
    try:
        env_late = {**env, "KHO_ALERT_ERROR_AFTER": "0"}
        first = kho_cli({**env, "KHO_ALERT_ERROR_AFTER": "3600"}, "fixity", "run", "--all")
        assert first.exit_code == 1 and "ERROR" in first.output
        assert hook.posts == []  # within the grace time: retried quietly
        kho_cli(env_late, "fixity", "run", "--all")
        kho_cli(env_late, "fixity", "run", "--all")
    finally:
        moved.rename(storage.root)
    assert [p["kind"] for p in hook.posts] == ["storage error"]
    assert hook.posts[0]["location"] == "local" and len(smtp.messages) == 1


def test_report_counts_coverage_and_lists_failures_in_every_format(repo, tmp_path):
    aips, _, env, storage = repo
    assert kho_cli(env, "fixity", "run", "--aip", aips[0].identifier).exit_code == 0
    text = kho_cli(env, "fixity", "report").output
    assert "Coverage: 50.0% (1 of 2 AIPs" in text and "never checked: 1" in text
    damage(storage, aips[1])
    kho_cli(env, "fixity", "run", "--all")
    data = json.loads(kho_cli(env, "fixity", "report", "--format", "json").output)
    assert data["aips_checked"] == 2 and data["coverage"] == 0.5
    assert data["aip_outcomes"] == {"success": 2, "failure": 1}
    assert [p["aip"] for p in data["problems"]] == [aips[1].identifier]
    rows = list(csv.DictReader(io.StringIO(kho_cli(env, "fixity", "report", "--format",
                                                   "csv").output)))
    assert rows[0]["path"] == PAGE and rows[0]["outcome"] == "changed"
    only = json.loads(kho_cli(env, "fixity", "report", "--format", "json", "--collection",
                              "Hán-Nôm").output)
    assert only["problems"] == [] and only["aips_total"] == 1
    out = tmp_path / "report.html"
    kho_cli(env, "fixity", "report", "--format", "html", "--output", str(out))
    html = out.read_text(encoding="utf-8")
    assert "<svg" in html and 'class="checks"' in html and 'class="failures"' in html
    assert aips[1].identifier in html and "Coverage" in html
    empty = json.loads(kho_cli(env, "fixity", "report", "--format", "json",
                               "--until", "2000-01-01").output)
    assert empty["checks"] == 0


def test_audit_verify_catches_newest_events_removed_via_the_head_in_storage(repo, settings):
    from repository.catalog.chain_store import CHAIN_HEAD_KEY
    aips, catalog, env, storage = repo
    assert kho_cli(env, "fixity", "run", "--all").exit_code == 0
    assert storage.exists(CHAIN_HEAD_KEY)
    good = kho_cli(env, "audit", "verify")
    assert good.exit_code == 0 and "recorded in storage location local" in good.output
    with catalog.session() as session:
        newest = session.scalar(select(PremisEvent.id).order_by(PremisEvent.id.desc()).limit(1))
        session.execute(delete(PremisEvent).where(PremisEvent.id >= newest - 1))
    bad = kho_cli(env, "audit", "verify")
    assert bad.exit_code == 1 and "removed from the end" in bad.output


def test_chain_head_lives_in_an_extension_folder_that_ocfl_validation_accepts(repo):
    # ocfl-py's storage-root check stops at the 0004 layout (E071, unknown to it), so run
    # its traversal directly: extensions/ entries must be folders (E086) and every object
    # must be found with no traversal error (E072/E073).
    from ocfl.storage_root import StorageRoot
    from ocfl.validation_logger import ValidationLogger
    from repository.catalog.chain_store import CHAIN_HEAD_KEY
    aips, _, _, storage = repo
    assert storage.exists(CHAIN_HEAD_KEY)  # written by ingest
    root = StorageRoot(root=str(storage.root))
    root.log = ValidationLogger(log_warnings=True)
    root.open_root_fs()
    found = list(root.object_paths())
    assert len(found) == len(aips)
    assert root.num_traversal_errors == 0, str(root.log)
    assert "E086" not in str(root.log)
