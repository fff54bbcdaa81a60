"""docker-compose.yml cannot run here (no Docker engine), so check it only uses what Kho knows."""
from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from repository.cli import kho
from repository.config import describe_settings, load_settings
from repository.storage import S3Storage, load_locations

ROOT = Path(__file__).resolve().parents[1]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def test_compose_sets_only_settings_kho_reads_and_credentials_its_locations_name():
    services = compose()["services"]
    known = {env for env, _, _ in describe_settings()}
    location_file = ROOT / "storage_config" / "examples" / "minio.toml"
    named = {line.split("=")[1].strip().strip('"') for line in
             location_file.read_text(encoding="utf-8").splitlines()
             if line.strip().startswith(("access_key_env", "secret_key_env"))}
    for name in ("kho", "worker"):
        environment = services[name]["environment"]
        unknown = {k for k in environment if k.startswith("KHO_")} - known - named
        assert not unknown, f"{name} sets {unknown}, which Kho never reads"
        mounts = [v for v in services[name]["volumes"] if "minio.toml" in str(v)]
        assert mounts and mounts[0].split(":")[1].startswith(environment["KHO_STORAGE_CONFIG"])


def test_compose_minio_location_loads_with_the_compose_environment(tmp_path):
    environment = {k: str(v) for k, v in compose()["services"]["kho"]["environment"].items()}
    config = tmp_path / "storage"
    config.mkdir()
    (config / "minio.toml").write_bytes(
        (ROOT / "storage_config" / "examples" / "minio.toml").read_bytes())
    environment["KHO_STORAGE_CONFIG"] = str(config)
    environment["KHO_DATA_DIR"] = str(tmp_path / "data")
    settings = load_settings(environment)
    locations = load_locations(settings, environ=environment)
    assert settings.default_location == "minio"
    assert isinstance(locations["minio"], S3Storage)
    assert settings.database_url.startswith("postgresql+psycopg://")


def test_compose_commands_are_real_kho_commands():
    for name in ("kho", "worker"):
        argv = compose()["services"][name]["command"].split()
        assert argv[0] == "kho"
        result = CliRunner().invoke(kho, [*argv[1:], "--help"])
        assert result.exit_code == 0, result.output
