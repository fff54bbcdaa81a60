"""Named storage locations from storage_config/*.toml, and the `kho storage` commands."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from repository.cli import kho
from repository.errors import ConfigurationError, NotFound
from repository.storage import LocalStorage, OcflStore, S3Storage, get_location, load_locations
from repository.storage.locations import build_location

ROOT = Path(__file__).resolve().parents[1]


def write_config(settings, name: str, text: str) -> Path:
    folder = Path(settings.storage_config_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_embedded_default_exists_without_any_file(settings):
    locations = load_locations(settings)
    assert list(locations) == ["local"]
    assert isinstance(locations["local"], LocalStorage)
    assert locations["local"].root == settings.data_dir / "storage"
    assert get_location(settings) is not None


def test_shipped_local_toml_is_the_default_and_examples_are_not_loaded(settings):
    shipped = settings.replace(storage_config_dir=ROOT / "storage_config")
    locations = load_locations(shipped)
    assert list(locations) == ["local"]
    assert locations["local"].root == settings.data_dir / "storage"


@pytest.mark.parametrize("example", ["minio.toml", "aws-s3.toml"])
def test_example_s3_files_build_s3_locations(settings, example):
    import tomllib
    document = tomllib.loads((ROOT / "storage_config" / "examples" / example).read_text())
    [(name, table)] = document["locations"].items()
    env = {"KHO_MINIO_ACCESS_KEY": "k", "KHO_MINIO_SECRET_KEY": "s"}
    location = build_location(name, table, settings, env)
    assert isinstance(location, S3Storage) and location.prefix.endswith("/")


def test_local_and_s3_locations_from_files(settings):
    write_config(settings, "more.toml", """
[locations.archive]
kind = "local"
root = "lưu trữ"

[locations.elsewhere]
kind = "local"
root = "{data_dir}/khác"

[locations.minio]
kind = "s3"
endpoint_url = "http://127.0.0.1:9"
bucket = "kho"
prefix = "/ocfl/"
access_key_env = "MY_KEY"
secret_key_env = "MY_SECRET"
""")
    locations = load_locations(settings, {"MY_KEY": "k", "MY_SECRET": "s"})
    assert locations["archive"].root == settings.data_dir / "lưu trữ"
    assert locations["elsewhere"].root == settings.data_dir / "khác"
    minio = locations["minio"]
    assert (minio.kind, minio.bucket, minio.prefix) == ("s3", "kho", "ocfl/")
    assert minio.describe() == "s3://kho/ocfl/ at http://127.0.0.1:9"


@pytest.mark.parametrize("text, problem", [
    ("[locations.x\nkind='local'", "cannot read"),
    ("[locations.x]\nkind = 'ftp'", "kind must be"),
    ("[locations.x]\nkind = 's3'\nbucket = 'b'\nsecret_key = 'hunter2'", "must not be written"),
    ("[locations.x]\nkind = 's3'\nbucket = 'b'\naccess_key_env = 'KHO_NOT_SET_ANYWHERE'",
     "KHO_NOT_SET_ANYWHERE"),
    ("[locations.x]\nkind = 's3'", "bucket is required"),
    ("[locations.x]\nkind = 'local'\nroot = 'a'\nrot = 'b'", "unknown settings"),
    ("kind = 'local'", "unexpected top-level"),
])
def test_bad_location_file_names_the_file_and_the_problem(settings, text, problem):
    path = write_config(settings, "bad.toml", text)
    with pytest.raises(ConfigurationError) as caught:
        load_locations(settings, {})
    assert str(path) in str(caught.value) and problem in str(caught.value)


def test_same_name_in_two_files_is_refused(settings):
    write_config(settings, "a.toml", "[locations.x]\nkind = 'local'\n")
    write_config(settings, "b.toml", "[locations.x]\nkind = 'local'\n")
    with pytest.raises(ConfigurationError, match="already defined"):
        load_locations(settings)


def test_unknown_location_name_is_not_found(settings):
    with pytest.raises(NotFound, match="no-such"):
        get_location(settings, "no-such")


def test_s3_location_fixture_is_found_by_name_and_reachable(settings, s3_location):
    found = get_location(settings, "s3")
    assert isinstance(found, S3Storage) and found.bucket == s3_location.bucket
    found.check_reachable()


def _run(settings, *args):
    env = {"KHO_DATA_DIR": str(settings.data_dir),
           "KHO_STORAGE_CONFIG": str(settings.storage_config_dir)}
    return CliRunner().invoke(kho, list(args), env=env, catch_exceptions=False)


def test_storage_list_shows_kind_place_and_reachability(settings, s3_location):
    write_config(settings, "down.toml", """
[locations.down]
kind = "s3"
endpoint_url = "http://127.0.0.1:9"
bucket = "kho"
connect_timeout = 1
max_attempts = 1
""")
    result = _run(settings, "storage", "list")
    assert result.exit_code == 0, result.output
    lines = {line.split("\t")[0]: line.split("\t") for line in result.output.splitlines()}
    assert lines["local (default)"][1:] == ["local", str(settings.data_dir / "storage"), "reachable"]
    assert lines["s3"][1] == "s3" and lines["s3"][3] == "reachable"
    assert lines["down"][3].startswith("UNREACHABLE")


def test_storage_gc_removes_only_incomplete_objects_past_the_grace_period(settings):
    storage = get_location(settings, "local")
    store = OcflStore(storage)
    store.create_object("urn:kho:aip:ok", [], message="m", user_name="u")
    crashed = store.object_root("urn:kho:aip:crashed")
    storage.put(f"{crashed}/v1/content/a.txt", io.BytesIO(b"a"))

    kept = _run(settings, "storage", "gc", "--older-than", "1h")
    assert "removed 0" in kept.output and storage.exists(f"{crashed}/v1/content/a.txt")
    dry = _run(settings, "storage", "gc", "--older-than", "0", "--dry-run")
    assert f"would remove {crashed}/" in dry.output and storage.exists(f"{crashed}/v1/content/a.txt")
    done = _run(settings, "storage", "gc", "--location", "local", "--older-than", "0")
    assert done.exit_code == 0 and f"removed {crashed}/" in done.output
    assert not storage.exists(f"{crashed}/v1/content/a.txt")
    assert list(store.list_objects()) == ["urn:kho:aip:ok"]
    assert _run(settings, "storage", "gc", "--location", "nowhere").exit_code == 2
