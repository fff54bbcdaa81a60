"""`kho validate`: exit codes, one problem per stderr line, the --json document."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from repository.cli import kho
from tests.fixtures.bags import make_bag, tar_folder

LINE = re.compile(r"^(error|warning): [KP][0-9]{3} \S.*: .+$")


@pytest.fixture
def run(tmp_path):
    def invoke(*args):
        runner = CliRunner()
        return runner.invoke(kho, ["validate", *map(str, args)],
                             env={"KHO_DATA_DIR": str(tmp_path / "kho-data")})
    return invoke


def test_valid_bag_exits_0_with_nothing_on_stderr(run, bag_factory):
    result = run(bag_factory())
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""


def test_warnings_go_to_stderr_and_still_exit_0(run, bag_factory):
    root = bag_factory()
    (root / "data" / "Thumbs.db").write_bytes(b"")
    with (root / "manifest-sha256.txt").open("a") as f:
        f.write("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855  data/Thumbs.db\n")
    (root / "tagmanifest-sha256.txt").unlink()
    info = (root / "bag-info.txt").read_text()
    (root / "bag-info.txt").write_text(re.sub(r"Payload-Oxum: (\d+)\.(\d+)",
                                              lambda m: f"Payload-Oxum: {m[1]}.{int(m[2]) + 1}",
                                              info))
    result = run(root)
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines and all(line.startswith("warning: ") and LINE.match(line) for line in lines)


def test_invalid_bag_exits_1_and_lists_every_problem(run, bag_factory):
    root = bag_factory()
    (root / "data" / "Trang 1 – Hà Nội.tif").write_bytes(b"sai")
    (root / "data" / "thừa.txt").write_text("không có trong manifest")
    result = run(root)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert all(LINE.match(line) for line in lines), lines
    assert any(l.startswith("error: K303 data/Trang 1 – Hà Nội.tif: ") for l in lines)
    assert any(l.startswith("error: K302 data/thừa.txt: ") for l in lines)


def test_json_output_is_one_document(run, bag_factory):
    root = bag_factory()
    (root / "data" / "thừa.txt").write_text("x")
    result = run(root, "--json")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["valid"] is False and doc["warnings"] == []
    assert {"code": "K302", "path": "data/thừa.txt",
            "message": "is in the payload but in no manifest"} in doc["errors"]


def test_usage_problems_exit_2(run, tmp_path):
    assert run(tmp_path / "không có").exit_code == 2
    odd = tmp_path / "bag.7z"
    odd.write_bytes(b"7z")
    assert run(odd).exit_code == 2
    assert run(tmp_path, "--profile", tmp_path / "missing.json").exit_code == 2


def test_archives_validate_and_unsafe_archives_exit_1_with_a_code(run, tmp_path):
    bag = make_bag(tmp_path / "bag")
    assert run(tar_folder(bag, tmp_path / "bag.tgz")).exit_code == 0
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../escape.txt", "x")
    result = run(evil)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: K701 evil.zip: ")
    assert not (tmp_path / "escape.txt").exists()


def test_profile_by_name_and_the_installed_command(tmp_path, bag_factory):
    root = bag_factory(algorithms=("md5",))
    kho_script = Path(sys.executable).parent / "kho"
    proc = subprocess.run([str(kho_script), "validate", str(root),
                           "--profile", "kho-default"], capture_output=True, text=True,
                          env={"KHO_DATA_DIR": str(tmp_path / "d"), "PATH": "/usr/bin"})
    assert proc.returncode == 1
    assert "error: P205 .: " in proc.stderr


def test_kho_help_lists_every_command_on_one_untruncated_line():
    from click.testing import CliRunner

    from repository.cli import kho
    result = CliRunner().invoke(kho, ["--help"], terminal_width=80)
    listed = result.output.split("Commands:")[1].strip().splitlines()
    names = {line.split()[0] for line in listed}
    assert {"validate", "describe", "ingest", "serve", "storage", "catalog", "user", "fixity",
            "worker", "audit", "settings"} <= names
    assert not [line for line in listed if line.rstrip().endswith("...")]
