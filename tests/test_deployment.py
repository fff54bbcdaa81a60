"""docker-compose.yml cannot run here (no Docker engine), so check it only uses what Kho knows."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
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


GUNICORN = ["gunicorn", "--config", "python:repository.web.gunicorn_conf",
            "repository.web:create_app()"]


def test_compose_commands_are_real_kho_commands():
    argv = compose()["services"]["worker"]["command"].split()
    assert argv[0] == "kho"
    result = CliRunner().invoke(kho, [*argv[1:], "--help"])
    assert result.exit_code == 0, result.output


def test_production_serves_with_gunicorn_and_its_timeouts_not_the_development_server():
    assert compose()["services"]["kho"]["command"].split() == GUNICORN
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert f"CMD {json.dumps(GUNICORN)}" in dockerfile
    assert "kho serve" not in compose()["services"]["kho"]["command"]


def test_gunicorn_serves_kho_with_timeouts_and_an_access_log_without_tokens(tmp_path):
    """The production command, run for real: it answers, and its access log hides tokens."""
    from tests.fixtures.s3 import free_ports
    port = free_ports(1)[0]
    env = {**os.environ, "KHO_DATA_DIR": str(tmp_path / "data"), "KHO_PORT": str(port),
           "KHO_STORAGE_CONFIG": str(tmp_path / "storage_config"), "KHO_WEB_TIMEOUT": "45",
           "KHO_WEB_WORKERS": "1", "KHO_FIXITY_IN_SERVE": "false"}
    env.pop("KHO_DATABASE_URL", None)
    argv = [str(Path(sys.executable).parent / GUNICORN[0]), *GUNICORN[1:]]
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/aips?token="
                                                "kho_secret-token-value", timeout=5) as response:
                        status = response.status
                    break
                except urllib.error.HTTPError as exc:
                    status = exc.code
                    break
                except OSError:
                    assert server.poll() is None and time.monotonic() < deadline, \
                        log.read_text(errors="replace")
                    time.sleep(0.3)
        finally:
            server.terminate()
            server.wait(30)
    text = log.read_text(errors="replace")
    # A token in a URL is no credential (tokens are never read from URLs): the anonymous answer.
    assert status == 200
    assert "gthread" in text and "kho_secret-token-value" not in text
    assert "GET /api/v1/aips?token=[redacted]" in text
