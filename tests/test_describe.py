"""`kho describe`: what a librarian sees before depositing a bag."""
from __future__ import annotations

import json
import subprocess
import sys
import unicodedata
from pathlib import Path

from click.testing import CliRunner

from repository.cli import kho
from tests.fixtures.bags import make_bag, tar_folder, zip_folder

DC = {"title": [{"value": "Đại Nam thực lục", "lang": "vi"}, {"value": "大南寔錄", "lang": "vi-Hani"}],
      "date": [{"value": "1890/1910"}], "type": [{"value": "Text"}]}


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(kho, list(args), env=env)


def bag_with(tmp_path: Path, dc: dict | str | None = None, **options) -> Path:
    root = make_bag(tmp_path / "Địa bạ", {"data/trang 1.txt": "Trang một".encode()}, **options)
    if dc is not None:
        (root / "metadata").mkdir()
        text = dc if isinstance(dc, str) else json.dumps(dc, ensure_ascii=False)
        (root / "metadata" / "dc.json").write_text(text, encoding="utf-8")
    return root


def test_describe_prints_the_record_as_readable_json(tmp_path, settings):
    root = bag_with(tmp_path, unicodedata.normalize("NFD", json.dumps(DC, ensure_ascii=False)))
    result = run("describe", str(root), env={"KHO_DATA_DIR": str(settings.data_dir)})
    assert result.exit_code == 0, result.output
    assert "Đại Nam thực lục" in result.stdout  # not \\u escapes, and NFC
    assert json.loads(result.stdout) == DC


def test_describe_json_gives_source_title_search_text_and_problems(tmp_path, settings):
    root = bag_with(tmp_path, DC)
    result = run("describe", "--json", str(root), env={"KHO_DATA_DIR": str(settings.data_dir)})
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["source"] == "metadata/dc.json"
    assert document["record"] == DC
    assert document["title"] == "Đại Nam thực lục"
    assert document["search_text"].startswith("dai nam thuc luc 大南寔錄")
    assert document["problems"] == []


def test_describe_reads_bag_info_dc_fields(tmp_path, settings):
    root = bag_with(tmp_path, bag_info={"DC-Title": "Địa bạ làng Phú Chiêm", "DC-Title-vi-Hani": "地簿",
                                        "Source-Organization": "Thư viện tỉnh Quảng Nam"})
    result = run("describe", str(root), env={"KHO_DATA_DIR": str(settings.data_dir)})
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "title": [{"value": "Địa bạ làng Phú Chiêm"}, {"value": "地簿", "lang": "vi-Hani"}],
        "publisher": [{"value": "Thư viện tỉnh Quảng Nam"}]}


def test_describe_of_a_bag_without_description_prints_null(tmp_path, settings):
    root = bag_with(tmp_path)
    result = run("describe", str(root), env={"KHO_DATA_DIR": str(settings.data_dir)})
    assert result.exit_code == 0
    assert json.loads(result.stdout) is None
    assert "no Dublin Core description" in result.stderr


def test_describe_exits_1_and_names_each_problem(tmp_path, settings):
    root = bag_with(tmp_path, {"date": [{"value": "1890-13"}], "type": [{"value": "Sách"}]})
    result = run("describe", str(root), env={"KHO_DATA_DIR": str(settings.data_dir)})
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert any(line.startswith("error: D120 metadata/dc.json: title is required: the record "
                               "has no title; add one:") and "DC-Title line in bag-info.txt" in line
               for line in lines)
    assert ("error: D124 metadata/dc.json: date[0] '1890-13' is not an ISO 8601 date or EDTF range "
            "(month 13 does not exist)") in lines
    assert any(line.startswith("error: D126 metadata/dc.json: type[0] 'Sách'") for line in lines)


def test_describe_of_malformed_json_exits_1_without_a_traceback(tmp_path, settings):
    root = bag_with(tmp_path, '{"title": "Huế",\n}')
    result = run("describe", str(root), env={"KHO_DATA_DIR": str(settings.data_dir)})
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.stderr.startswith("error: D101 metadata/dc.json: is not valid JSON")
    assert "line 2" in result.stderr


def test_describe_of_a_missing_path_exits_2(tmp_path):
    result = run("describe", str(tmp_path / "không có"))
    assert result.exit_code == 2
    assert "no such file or folder" in result.stderr


def test_describe_reads_zip_and_tar_archives(tmp_path, settings):
    root = bag_with(tmp_path, DC)
    env = {"KHO_DATA_DIR": str(settings.data_dir)}
    for archive in (zip_folder(root, tmp_path / "bag.zip"), tar_folder(root, tmp_path / "bag.tar.gz")):
        result = run("describe", str(archive), env=env)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout) == DC
    staging = settings.data_dir / "staging"
    assert not staging.exists() or list(staging.iterdir()) == []  # unpacked copies are removed


def test_kho_describe_runs_as_a_program(tmp_path, settings):
    root = bag_with(tmp_path, DC)
    completed = subprocess.run([str(Path(sys.executable).parent / "kho"), "describe", str(root)],
                               capture_output=True, env={"KHO_DATA_DIR": str(settings.data_dir),
                                                         "PYTHONIOENCODING": "utf-8"},
                               cwd=Path(__file__).resolve().parents[1])
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout.decode("utf-8")) == DC


def test_describe_of_an_unsafe_archive_exits_1_and_names_the_entry(tmp_path, settings):
    import zipfile
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("bag/bagit.txt", "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")
        zf.writestr("../../outside.txt", "escaped")
    result = run("describe", str(archive), env={"KHO_DATA_DIR": str(settings.data_dir)})
    assert result.exit_code == 1
    assert result.stderr.startswith("error: K7")
    assert "outside.txt" in result.stderr
    assert not (tmp_path / "outside.txt").exists()
