"""Named storage locations, read from ``storage_config/*.toml``.

Each file holds one or more tables ``[locations.NAME]`` with ``kind = "local"`` or
``kind = "s3"``. Credentials never live in these files: S3 keys come from the environment
(the standard AWS variables, or the variables named by ``access_key_env`` /
``secret_key_env`` / ``session_token_env``) or from a named boto3 ``profile``.
The embedded default, a local location ``local`` at ``DATA_DIR/storage``, is always
present unless a file defines ``local`` itself.
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Mapping

from repository.config import Settings
from repository.errors import ConfigurationError, NotFound

from .base import Storage
from .local import LocalStorage
from .s3 import DEFAULT_PART_SIZE, S3Storage

DEFAULT_LOCATION = "local"

_LOCAL_KEYS = {"kind", "root", "description"}
_S3_KEYS = {"kind", "description", "endpoint_url", "bucket", "prefix", "region", "addressing_style",
            "access_key_env", "secret_key_env", "session_token_env", "profile",
            "part_size_mib", "connect_timeout", "read_timeout", "max_attempts"}
_SECRET_KEYS = {"access_key", "secret_key", "aws_access_key_id", "aws_secret_access_key",
                "session_token", "password", "secret"}


def load_locations(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, Storage]:
    """Every configured location by name, the embedded default included."""
    environ = os.environ if environ is None else environ
    locations: dict[str, Storage] = {
        DEFAULT_LOCATION: LocalStorage(DEFAULT_LOCATION, settings.local_storage_root)}
    defined_in: dict[str, Path] = {}
    folder = Path(settings.storage_config_dir)
    files = sorted(folder.glob("*.toml")) if folder.is_dir() else []
    for path in files:
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"{path}: cannot read storage location file: {exc}") from exc
        unknown = set(document) - {"locations"}
        if unknown:
            raise ConfigurationError(f"{path}: unexpected top-level entries {sorted(unknown)}; "
                                     "put each location under [locations.NAME]")
        tables = document.get("locations", {})
        if not isinstance(tables, dict):
            raise ConfigurationError(f"{path}: 'locations' must be a table of [locations.NAME]")
        for name, table in tables.items():
            if name in defined_in:
                raise ConfigurationError(
                    f"{path}: location {name!r} is already defined in {defined_in[name]}")
            if not isinstance(table, dict):
                raise ConfigurationError(f"{path}: [locations.{name}] must be a table")
            locations[name] = build_location(name, table, settings, environ, source=path)
            defined_in[name] = path
    return locations


def get_location(settings: Settings, name: str | None = None,
                 environ: Mapping[str, str] | None = None) -> Storage:
    """The location called ``name`` (default: settings.default_location); NotFound if none."""
    name = name or settings.default_location
    locations = load_locations(settings, environ)
    try:
        return locations[name]
    except KeyError:
        raise NotFound(f"no storage location named {name!r} "
                       f"(known: {', '.join(sorted(locations))})") from None


def build_location(name: str, table: Mapping[str, Any], settings: Settings,
                   environ: Mapping[str, str], *, source: Path | str = "<config>") -> Storage:
    """A Storage from one ``[locations.NAME]`` table."""
    def fail(problem: str) -> ConfigurationError:
        return ConfigurationError(f"{source}: [locations.{name}]: {problem}")

    secrets = _SECRET_KEYS & set(table)
    if secrets:
        raise fail(f"credentials must not be written in the file ({', '.join(sorted(secrets))}); "
                   "name environment variables with access_key_env/secret_key_env or use profile")
    kind = table.get("kind")
    if kind == "local":
        _check_keys(table, _LOCAL_KEYS, fail)
        root = table.get("root", "storage")
        if not isinstance(root, str) or not root:
            raise fail("root must be a non-empty string")
        if "{data_dir}" in root:
            path = Path(root.replace("{data_dir}", str(settings.data_dir)))
        else:
            path = Path(root).expanduser()
            if not path.is_absolute():
                path = Path(settings.data_dir) / path
        return LocalStorage(name, path)
    if kind == "s3":
        _check_keys(table, _S3_KEYS, fail)
        bucket = table.get("bucket")
        if not isinstance(bucket, str) or not bucket:
            raise fail("bucket is required")
        style = table.get("addressing_style", "path")
        if style not in ("path", "virtual"):
            raise fail(f"addressing_style must be 'path' or 'virtual', not {style!r}")
        creds: dict[str, str | None] = {}
        for field, env_key in (("access_key", "access_key_env"), ("secret_key", "secret_key_env"),
                               ("session_token", "session_token_env")):
            var = table.get(env_key)
            if var is None:
                continue
            if var not in environ:
                raise fail(f"environment variable {var} (named by {env_key}) is not set")
            creds[field] = environ[var]
        try:
            return S3Storage(
                name, bucket, prefix=str(table.get("prefix", "")),
                endpoint_url=table.get("endpoint_url"), region=table.get("region", "us-east-1"),
                addressing_style=style, profile=table.get("profile"),
                part_size=int(float(table.get("part_size_mib", DEFAULT_PART_SIZE / 2**20)) * 2**20),
                connect_timeout=float(table.get("connect_timeout", 5)),
                read_timeout=float(table.get("read_timeout", 60)),
                max_attempts=int(table.get("max_attempts", 3)), **creds)
        except (TypeError, ValueError) as exc:
            raise fail(str(exc)) from exc
        except Exception as exc:  # StorageError from the constructor's own checks
            raise fail(str(exc)) from exc
    raise fail(f"kind must be 'local' or 's3', not {kind!r}")


def _check_keys(table: Mapping[str, Any], allowed: set[str], fail) -> None:
    unknown = set(table) - allowed
    if unknown:
        raise fail(f"unknown settings {sorted(unknown)} (allowed: {sorted(allowed)})")


def location_toml(name: str, table: Mapping[str, Any]) -> str:
    """A ``[locations.NAME]`` file body for simple string/number settings (tests, set-up)."""
    lines = [f'[locations."{name}"]']
    for key, value in table.items():
        if isinstance(value, str):
            escaped = value.replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'{key} = "{escaped}"')
        else:
            lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"
