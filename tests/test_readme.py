"""The README's `sh` blocks, run exactly as printed and in order, against a live `kho serve`
on 127.0.0.1:5000, as a new archivist would run them from a folder of scans.

The server runs in a network namespace of its own (``unshare -n``), so the README's own
address is free whatever else runs on this machine; nothing leaves the namespace.
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.aips import page_image

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

RUNNER = r"""
ip link set lo up
kho serve > serve.out 2> serve.err &
SERVER=$!
for i in $(seq 1 300); do
  curl -s -o /dev/null http://127.0.0.1:5000/api/v1/collections && break
  sleep 0.2
done
(cd work && bash -e ../readme.sh) > readme.out 2> readme.err
echo $? > readme.rc
ADMIN=$(kho user add readme-test-admin --role admin --no-password | tail -n 1)
for i in $(seq 1 600); do
  curl -s -H "Authorization: Bearer $ADMIN" http://127.0.0.1:5000/api/v1/deposits > deposits.json
  grep -qE '"status": ?"(received|validating|storing)"' deposits.json || break
  sleep 0.2
done
kill $SERVER
wait $SERVER
"""


def readme_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"^```sh\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_sh_blocks_are_the_ones_a_new_archivist_needs():
    joined = "\n".join(readme_blocks())
    assert "kho collection add" in joined
    assert ('--data-binary @dia-ba.zip "http://127.0.0.1:5000/api/v1/deposits?collection='
            'Địa%20bạ"') in joined


def test_readme_commands_run_as_printed_against_a_live_server(tmp_path):
    if not Path("/usr/bin/unshare").exists() or not (Path("/usr/sbin/ip").exists()
                                                     or Path("/sbin/ip").exists()):
        message = "unshare and ip (util-linux, iproute2) are needed to run the README"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    work = tmp_path / "work"
    scans = work / "dia-ba-1890"
    scans.mkdir(parents=True)
    (scans / "bìa.jpg").write_bytes(page_image(60, 80))
    for n in (1, 2, 10):
        (scans / f"trang {n}.jpg").write_bytes(page_image(60, 80, shade=n * 5))
    (tmp_path / "readme.sh").write_text("\n".join(readme_blocks()), encoding="utf-8")
    (tmp_path / "run.sh").write_text(RUNNER, encoding="utf-8")
    data = tmp_path / "data"
    env = {"PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
           "HOME": str(tmp_path / "home"), "KHO_DATA_DIR": str(data),
           "KHO_DROP_FOLDER": str(work), "KHO_STORAGE_CONFIG": str(tmp_path / "no-locations"),
           "KHO_FIXITY_IN_SERVE": "false"}
    run = subprocess.run(["unshare", "-n", "bash", str(tmp_path / "run.sh")], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=600)
    out = (tmp_path / "readme.out").read_text()
    err = (tmp_path / "readme.err").read_text()
    assert (tmp_path / "readme.rc").read_text().strip() == "0", f"{run.stderr}\n{out}\n{err}"
    # kho serve said where its data is before anything else.
    served = (tmp_path / "serve.err").read_text()
    assert f"data folder: {data} (KHO_DATA_DIR)" in served
    assert f"warning: the repository at {data} is empty" in served  # a fresh start says so
    assert f"data folder: {data} (KHO_DATA_DIR)" in out  # kho settings | head -n 2
    assert "Địa bạ xã Phú Chiêm" in out  # kho describe
    assert re.search(r"^Địa bạ\t0 AIPs\tpublic", out, re.M)  # kho collection list
    answers = [json.loads(line) for line in out.splitlines() if line.startswith('{"')]
    accepted = [a for a in answers if a.get("status") == "received"]
    assert len(accepted) == 2, out
    deposits = json.loads((tmp_path / "deposits.json").read_text())["deposits"]
    by_id = {d["identifier"]: d for d in deposits}
    upload, drop = (by_id[a["identifier"]] for a in accepted)
    assert upload["status"] == "done", upload
    assert upload["collection"] == "Địa bạ"
    assert drop["status"] == "failed" and upload["aip"] in drop["message"]
    assert "new_version" in drop["message"]
    listing = next(a for a in answers if "deposits" in a)  # the README's own listing
    assert {d["depositor"] for d in listing["deposits"]} == {"lan"}
    with sqlite3.connect(data / "kho.sqlite3") as db:
        names = db.execute("select c.name from aips a join collections c "
                           "on c.id = a.collection_id").fetchall()
        files = {row[0] for row in db.execute("select logical_path from aip_files")}
    assert names == [("Địa bạ",)]
    assert "data/bìa.jpg" in files and "data/trang 10.jpg" in files  # names from Info-ZIP
