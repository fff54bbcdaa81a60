"""Every setting Kho reads: its default and its environment variable, in one place.

A setting is read from the environment once, when :func:`load_settings` is called (the
app factory and each CLI command call it); nothing reads ``os.environ`` elsewhere.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping


def _setting(env: str, default: Any, doc: str) -> Any:
    return field(default=default, metadata={"env": env, "doc": doc})


@dataclass(frozen=True)
class Settings:
    """Kho's configuration. Field metadata names the environment variable."""

    data_dir: Path = _setting(
        "KHO_DATA_DIR", None,
        "Everything Kho writes on the embedded default: database, storage, staging. "
        "Default: $XDG_DATA_HOME/kho (~/.local/share/kho), the same from any folder.")
    database_url: str = _setting(
        "KHO_DATABASE_URL", "",
        "SQLAlchemy URL of the catalogue; empty means SQLite at DATA_DIR/kho.sqlite3.")
    storage_config_dir: Path = _setting(
        "KHO_STORAGE_CONFIG", Path("storage_config"),
        "Folder of storage location files (*.toml).")
    default_location: str = _setting(
        "KHO_DEFAULT_LOCATION", "local",
        "Storage location that ingest writes to when none is named.")
    host: str = _setting("KHO_HOST", "127.0.0.1", "Address `kho serve` listens on.")
    port: int = _setting("KHO_PORT", 5000, "Port `kho serve` listens on.")
    base_url: str = _setting(
        "KHO_BASE_URL", "",
        "Public URL of the server, used in IIIF ids; empty means taken from each request.")
    # Safe unpacking caps (ingest/unpack.py).
    unpack_max_entries: int = _setting(
        "KHO_UNPACK_MAX_ENTRIES", 200_000, "Most entries an archive may hold.")
    unpack_max_bytes: int = _setting(
        "KHO_UNPACK_MAX_BYTES", 200 * 1024**3, "Most bytes an archive may unpack to.")
    unpack_max_ratio: float = _setting(
        "KHO_UNPACK_MAX_RATIO", 200.0,
        "Highest unpacked/packed size ratio, per entry and in total (zip bombs).")
    archive_name_encoding: str = _setting(
        "KHO_ARCHIVE_NAME_ENCODING", "cp1258",
        "Code page of zip/tar entry names that are neither flagged nor valid UTF-8 "
        "(cp1258: Vietnamese Windows).")
    fetch_max_bytes: int = _setting(
        "KHO_FETCH_MAX_BYTES", 10 * 1024**3, "Largest file --allow-fetch downloads.")
    validate_processes: int = _setting(
        "KHO_VALIDATE_PROCESSES", 0, "Hashing processes for validation; 0 means one per core.")
    store_workers: int = _setting(
        "KHO_STORE_WORKERS", 0,
        "Files ingest copies into storage at once; 0: one per core (local), two per core (S3).")
    # Web and API.
    max_upload_bytes: int = _setting(
        "KHO_MAX_UPLOAD_BYTES", 20 * 1024**3, "Largest deposit upload, answered 413 beyond.")
    drop_folder: Path | None = _setting(
        "KHO_DROP_FOLDER", None, "Server-side folder whose bags may be deposited by path.")
    token_days: int = _setting(
        "KHO_TOKEN_DAYS", 0,
        "Days an API token stays valid from when it is issued; 0: until replaced "
        "(`kho user token NAME`).")
    public_read: bool = _setting(
        "KHO_PUBLIC_READ", True, "Whether public AIPs can be read without a token.")
    default_access: str = _setting(
        "KHO_DEFAULT_ACCESS", "public",
        "Access of a new AIP when ingest names none: public, restricted, embargoed:DATE.")
    # Web sign-in (repository/web/signin.py).
    secret_key: str = _setting(
        "KHO_SECRET_KEY", "",
        "Key that signs browser sessions; empty: a random one kept in DATA_DIR/secret_key.")
    session_hours: int = _setting(
        "KHO_SESSION_HOURS", 12, "Hours a browser stays signed in without signing in again.")
    sign_in_max_failures: int = _setting(
        "KHO_SIGN_IN_MAX_FAILURES", 5, "Wrong passwords in a row before an account is locked.")
    sign_in_lock_seconds: int = _setting(
        "KHO_SIGN_IN_LOCK_SECONDS", 900, "Seconds an account stays locked after too many failures.")
    default_language: str = _setting(
        "KHO_DEFAULT_LANGUAGE", "vi", "Language of the web pages until a reader chooses: vi or en.")
    search_total_cap: int = _setting(
        "KHO_SEARCH_TOTAL_CAP", 10_000,
        "Matches a search counts, ranks and facets; beyond, it says \"more than\" this many "
        "and shows the best of the first ones found (issue 11: fast at a million records).")
    holding_institution: str = _setting(
        "KHO_INSTITUTION", "Thư viện tỉnh",
        "Name of the holding library, used in IIIF requiredStatement and provider.")
    trusted_proxies: int = _setting(
        "KHO_TRUSTED_PROXIES", 0,
        "Reverse proxies in front of Kho whose X-Forwarded-For/Proto/Host/Prefix are believed; 0: none.")
    viewer_frame_ancestors: str = _setting(
        "KHO_VIEWER_FRAME_ANCESTORS", "",
        "Origins that may embed the viewer in a frame (CSP frame-ancestors, space-separated); "
        "empty: none. Every other page refuses to be framed.")
    web_workers: int = _setting(
        "KHO_WEB_WORKERS", 2, "gunicorn worker processes in production (deployment/gunicorn.conf.py).")
    web_threads: int = _setting(
        "KHO_WEB_THREADS", 8, "Threads per gunicorn worker: requests one process serves at once.")
    web_timeout: int = _setting(
        "KHO_WEB_TIMEOUT", 120,
        "Seconds gunicorn lets a worker stay silent before it is restarted (a hung worker).")
    web_keepalive: int = _setting(
        "KHO_WEB_KEEPALIVE", 5, "Seconds an idle keep-alive connection is held open.")
    # IIIF Image API (access/image_service.py).
    iiif_max_width: int = _setting(
        "KHO_IIIF_MAX_WIDTH", 0, "Widest image the Image API renders (info.json maxWidth); 0: no limit.")
    iiif_max_height: int = _setting(
        "KHO_IIIF_MAX_HEIGHT", 0, "Tallest image the Image API renders (maxHeight); 0: as maxWidth.")
    iiif_max_area: int = _setting(
        "KHO_IIIF_MAX_AREA", 25_000_000, "Most pixels in one rendered image (info.json maxArea); 0: no limit.")
    iiif_renderers: int = _setting(
        "KHO_IIIF_RENDERERS", 2,
        "Images one process renders at once; more requests wait (bounds memory: each holds up "
        "to maxArea pixels).")
    iiif_cache_bytes: int = _setting(
        "KHO_IIIF_CACHE_BYTES", 128 * 1024**2,
        "Bytes of rendered images kept in memory per process; 0 turns the cache off.")
    iiif_collection_page_size: int = _setting(
        "KHO_IIIF_COLLECTION_PAGE_SIZE", 100,
        "Manifests per page of a IIIF collection; larger collections become pages (docs/iiif.md).")
    right_to_left_collections: str = _setting(
        "KHO_RIGHT_TO_LEFT_COLLECTIONS", "",
        "Collections whose books open from the right in the viewer (IIIF viewingDirection) "
        "whatever language their description gives, separated by ';' (e.g. 'Hán-Nôm; Châu bản'); "
        "books in vi-Hani or zh-Hant open so anywhere.")
    # OAI-PMH provider at /oai (access/oai.py).
    oai_repository_identifier: str = _setting(
        "KHO_OAI_REPOSITORY_ID", "kho.local",
        "OAI repositoryIdentifier, a domain name you control: identifiers are oai:<it>:<aip-id>.")
    oai_repository_name: str = _setting(
        "KHO_OAI_REPOSITORY_NAME", "", "OAI repositoryName; empty: Kho and KHO_INSTITUTION.")
    oai_admin_email: str = _setting(
        "KHO_OAI_ADMIN_EMAIL", "admin@kho.local",
        "OAI adminEmail shown by Identify (several: separated by commas).")
    oai_page_size: int = _setting(
        "KHO_OAI_PAGE_SIZE", 200, "Records or headers in one OAI-PMH list response.")
    oai_token_secret: str = _setting(
        "KHO_OAI_TOKEN_SECRET", "",
        "Key that signs resumption tokens; empty: a random key kept in DATA_DIR/oai-token-key "
        "(set it when several servers answer /oai).")
    oai_token_lifetime_s: int = _setting(
        "KHO_OAI_TOKEN_LIFETIME", 86400, "Seconds a resumption token stays valid.")
    # Union catalogue: harvesting other libraries (union/).
    union_interval_hours: int = _setting(
        "KHO_UNION_INTERVAL_HOURS", 24, "Hours between harvests of a source added without --every.")
    union_in_serve: bool = _setting(
        "KHO_UNION_IN_SERVE", True, "Whether `kho serve` harvests due sources in the background.")
    union_tick_s: int = _setting(
        "KHO_UNION_TICK", 300, "Seconds between the background harvester's looks for due sources.")
    union_timeout_s: float = _setting(
        "KHO_UNION_TIMEOUT", 60.0, "Seconds a source may take to answer one request, in all.")
    union_max_response_bytes: int = _setting(
        "KHO_UNION_MAX_RESPONSE_BYTES", 64 * 1024**2, "Largest answer read from a source.")
    union_retries: int = _setting(
        "KHO_UNION_RETRIES", 3, "Times a request is retried after 503/429 or a network fault.")
    union_max_retry_after_s: int = _setting(
        "KHO_UNION_MAX_RETRY_AFTER", 600, "Longest Retry-After a harvest waits for.")
    # Fixity.
    fixity_interval_days: int = _setting(
        "KHO_FIXITY_INTERVAL_DAYS", 90, "Every AIP is checked at least once in this many days.")
    fixity_nightly_bytes: int = _setting(
        "KHO_FIXITY_NIGHTLY_BYTES", 0, "Most bytes one scheduled batch checks; 0 means spread evenly.")
    fixity_nightly_seconds: int = _setting(
        "KHO_FIXITY_NIGHTLY_SECONDS", 0,
        "Most seconds one scheduled batch may run before it stops starting new AIPs; 0: no limit.")
    fixity_tick_s: int = _setting(
        "KHO_FIXITY_TICK", 86400, "Seconds between scheduled batches (one night by default).")
    fixity_threads: int = _setting(
        "KHO_FIXITY_THREADS", 0, "Hashing threads per check; 0: one per core (local), more on S3.")
    fixity_digests: str = _setting(
        "KHO_FIXITY_DIGESTS", "fastest",
        "fastest: where every source agrees, only the fastest strong algorithm recorded "
        "(sha256 on CPUs with SHA instructions; every AIP has it); all: recompute every "
        "recorded algorithm.")
    fixity_auto_repair: bool = _setting(
        "KHO_FIXITY_AUTO_REPAIR", False,
        "Repair a copy that fails its check from another copy that has just passed "
        "(bad files kept in quarantine); off: `kho repair AIP` does it on request.")
    fixity_lease_s: int = _setting(
        "KHO_FIXITY_LEASE", 3600, "Seconds a check holds its AIP's lease (a crashed one expires).")
    fixity_executor: str = _setting(
        "KHO_FIXITY_EXECUTOR", "inprocess",
        "inprocess: the scheduler checks AIPs itself; celery: it enqueues them for `kho worker`.")
    fixity_scheduler_in_serve: bool = _setting(
        "KHO_FIXITY_IN_SERVE", True, "Whether `kho serve` runs the fixity scheduler in-process.")
    celery_queue: str = _setting(
        "KHO_CELERY_QUEUE", "kho-fixity", "Celery queue that fixity checks are sent to.")
    redis_url: str = _setting(
        "KHO_REDIS_URL", "redis://127.0.0.1:6379/0", "Celery broker for `kho worker`.")
    # Deposits on workers (repository/ingest/tasks.py): the web server only receives.
    ingest_executor: str = _setting(
        "KHO_INGEST_EXECUTOR", "inprocess",
        "inprocess: deposits are ingested by the web server; celery: they are sent to "
        "`kho worker` (which must see the same KHO_DATA_DIR staging and drop folder).")
    ingest_queue: str = _setting(
        "KHO_INGEST_QUEUE", "kho-ingest", "Celery queue that deposits are sent to.")
    ingest_attempts: int = _setting(
        "KHO_INGEST_ATTEMPTS", 3,
        "Times a deposit is started on workers before it is marked failed (a worker that "
        "dies mid-ingest costs one).")
    deposit_lease_s: int = _setting(
        "KHO_DEPOSIT_LEASE", 120,
        "Seconds without a heartbeat after which a deposit's worker is taken for dead and "
        "another worker takes the deposit over.")
    worker_visibility_timeout_s: int = _setting(
        "KHO_WORKER_VISIBILITY_TIMEOUT", 3600,
        "Seconds before Redis gives a task whose worker never acknowledged it (it died) to "
        "another worker; a redelivered deposit still running elsewhere waits for its lease.")
    # Text of pages (repository/text): OCR, transcriptions, IIIF Content Search.
    ocr_languages: str = _setting(
        "KHO_OCR_LANGUAGES", "",
        "Which AIPs get OCR after ingest, and in which Tesseract languages: rules "
        "'collection:NAME=LANGS; type:DCTYPE=LANGS; *=LANGS', first match wins "
        "(e.g. 'collection:Báo chí=vie+fra; type:Text=vie'); empty: no OCR after ingest.")
    ocr_executor: str = _setting(
        "KHO_OCR_EXECUTOR", "inprocess",
        "inprocess: OCR runs in the process that ingested; celery: it is sent to `kho worker`.")
    ocr_queue: str = _setting("KHO_OCR_QUEUE", "kho-ocr", "Celery queue that OCR runs are sent to.")
    ocr_processes: int = _setting(
        "KHO_OCR_PROCESSES", 0, "Pages read by Tesseract at once; 0: one per core.")
    ocr_timeout_s: int = _setting(
        "KHO_OCR_TIMEOUT", 300, "Seconds Tesseract may spend on one page before it is reported failed.")
    tesseract_command: str = _setting(
        "KHO_TESSERACT", "tesseract", "The Tesseract program (Debian tesseract-ocr).")
    content_search_page_size: int = _setting(
        "KHO_CONTENT_SEARCH_PAGE_SIZE", 100, "Hits per page of a IIIF Content Search answer.")
    smtp_host: str = _setting("KHO_SMTP_HOST", "", "SMTP server for alerts; empty: no email.")
    smtp_port: int = _setting("KHO_SMTP_PORT", 25, "SMTP port for alerts.")
    alert_email_to: str = _setting("KHO_ALERT_EMAIL", "", "Where fixity alerts are mailed.")
    alert_email_from: str = _setting("KHO_ALERT_FROM", "kho@localhost", "Sender of alert mail.")
    alert_webhook: str = _setting("KHO_ALERT_WEBHOOK", "", "URL that fixity alerts are POSTed to.")
    # Holdings register and the digitisation programme (repository/holdings).
    holdings_target: float = _setting(
        "KHO_HOLDINGS_TARGET", 0.7,
        "Programme target: share of rare items preserved (0.7 = 70%), unless a library or "
        "collection has its own.")
    holdings_deadline: str = _setting(
        "KHO_HOLDINGS_DEADLINE", "2030-12-31", "Date (YYYY-MM-DD) the programme target is due.")
    holdings_link_field: str = _setting(
        "KHO_HOLDINGS_LINK_FIELD", "External-Identifier",
        "bag-info.txt field carrying the shelfmark that links an AIP to a register item.")
    holdings_rare_before: int = _setting(
        "KHO_HOLDINGS_RARE_BEFORE", 1945,
        "MARC import: items made before this year (and manuscripts) count as rare.")
    holdings_pace_months: int = _setting(
        "KHO_HOLDINGS_PACE_MONTHS", 12,
        "Months of preservation the dashboard's projection measures the current pace over.")
    alert_error_after_s: int = _setting(
        "KHO_ALERT_ERROR_AFTER", 3600, "Seconds an unreachable location is tolerated before alerting.")

    @property
    def staging_dir(self) -> Path:
        return self.data_dir / "staging"

    @property
    def derivatives_dir(self) -> Path:
        return self.data_dir / "derivatives"

    @property
    def local_storage_root(self) -> Path:
        return self.data_dir / "storage"

    @property
    def catalog_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'kho.sqlite3').resolve()}"

    def __post_init__(self) -> None:
        # One fixed, absolute place: a relative folder would start a second, empty
        # repository whenever `kho` is run from another working folder.
        folder = self.data_dir if self.data_dir is not None else default_data_dir()
        object.__setattr__(self, "data_dir", Path(folder).expanduser().absolute())

    def replace(self, **changes: Any) -> "Settings":
        """A copy with some settings changed (tests and the app factory use this)."""
        return dataclasses.replace(self, **changes)


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """The data folder when KHO_DATA_DIR is not set: the user's data directory (XDG)."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "kho"


def _convert(raw: str, default: Any, name: str) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, Path) or name.endswith(("_dir", "_folder", "_config")):
        return Path(raw) if raw else None
    return raw


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Settings from the environment (``os.environ`` by default), then ``overrides``."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        env = f.metadata["env"]
        if env in environ:
            values[f.name] = _convert(environ[env], f.default, f.name)
    values.update(overrides)
    if values.get("data_dir") is None:
        values["data_dir"] = default_data_dir(environ)
    return Settings(**values)


def describe_settings() -> list[tuple[str, str, str]]:
    """(environment variable, default, description) of every setting, for docs and --help."""
    return [(f.metadata["env"], str(default_data_dir() if f.name == "data_dir" else f.default),
             f.metadata["doc"]) for f in dataclasses.fields(Settings)]
