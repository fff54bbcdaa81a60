"""Opening the catalogue database and bringing its schema up to date (Alembic).

SQLite is the embedded default; PostgreSQL (``postgresql+psycopg://``) is for production.
Sessions are opened at the door (web request, CLI command) and passed into the rooms.
"""
from __future__ import annotations

import ast
import re
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

import repository

# The package is installed editable, so the migrations folder sits beside it in the checkout.
MIGRATIONS_DIR = Path(repository.__file__).resolve().parents[1] / "migrations"
ALEMBIC_INI = MIGRATIONS_DIR.parent / "alembic.ini"

# Rooms whose models share Base.metadata; imported so Alembic knows every table.
MODEL_MODULES = ("repository.catalog.models", "repository.ingest.models",
                 "repository.fixity.models", "repository.union.models",
                 "repository.holdings.models", "repository.text.models",
                 "repository.search.models")

VERSION_TABLE = "alembic_version"  # Alembic's default name; migrations/env.py keeps it
_MIGRATION_LOCK_KEY = 0x4B484F2D4D494752  # "KHO-MIGR"

# Seconds a SQLite writer waits for another writer before "database is locked".
SQLITE_BUSY_TIMEOUT_S = 30
# Bytes of a SQLite database read through memory mapping rather than read() into each
# connection's own 2 MB page cache (SQLite caps it at its build's limit, 2 GB on Debian).
SQLITE_MMAP_BYTES = 2 ** 31


class Catalog:
    """One catalogue database: its engine, its session factory, its schema upgrades."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # The search index changes in the same transaction as what it describes.
        from repository.search.upkeep import keep_index_in_step
        keep_index_in_step(self._sessions)

    @property
    def url(self) -> str:
        """The database URL with any password hidden (safe to print)."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends and rolls back if it raises."""
        with self._sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def current_revision(self) -> str | None:
        """The Alembic revision the database is at (None for an empty database)."""
        # Read alembic_version with one plain query: importing Alembic's runtime (with
        # Mako and Pygments) cost every command ~0.3 s before it did anything.
        with self.engine.connect() as connection:
            if not connection.dialect.has_table(connection, VERSION_TABLE):
                return None
            rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
        if len(rows) > 1:  # a branched history: let Alembic say what is wrong
            from alembic.runtime.migration import MigrationContext
            with self.engine.connect() as connection:
                return MigrationContext.configure(connection).get_current_revision()
        return rows[0][0] if rows else None

    def is_up_to_date(self) -> bool:
        return self.current_revision() in head_revisions()

    def upgrade(self, revision: str = "head") -> str | None:
        """Run Alembic ``upgrade`` to ``revision``; cheap (one query) when already at head."""
        if revision == "head":
            current = self.current_revision()
            if current in head_revisions():
                return current
        from alembic import command
        config = alembic_config()  # the URL is not needed: env.py gets the connection
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # `kho serve` and `kho ingest` may start together: one migrates, the other
                # waits here, then finds the database at head.
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK_KEY})")
            # env.py uses this connection, so SQLite gets the same pragmas as the app.
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        return self.current_revision()

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str | None = None):
    """An Alembic Config for Kho's migrations, usable from any working directory."""
    from alembic.config import Config
    config = Config(str(ALEMBIC_INI)) if ALEMBIC_INI.is_file() else Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        # ConfigParser treats "%" as interpolation; URL-encoded passwords contain it.
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def load_all_models():
    """Import every room's models (skipping rooms not built yet); returns Base.metadata."""
    import importlib
    for module in MODEL_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
    from repository.catalog.models import Base
    return Base.metadata


_REVISION_LINE = re.compile(r"^(revision|down_revision)\s*(?::[^=]*)?=\s*(.+?)\s*$", re.M)


@lru_cache(maxsize=1)
def _heads() -> tuple[str, ...]:
    # Each migration's `revision` and `down_revision` lines, read as text: Alembic's
    # ScriptDirectory imports every migration module (and Alembic itself), ~0.4 s that
    # every command paid just to learn the database was already at head.
    # tests/test_migrations.py checks this agrees with ScriptDirectory.get_heads().
    revisions: set[str] = set()
    parents: set[str] = set()
    try:
        for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
            found = dict(m.groups() for m in _REVISION_LINE.finditer(path.read_text("utf-8")))
            if "revision" not in found:
                continue
            revisions.add(ast.literal_eval(found["revision"]))
            down = ast.literal_eval(found.get("down_revision", "None"))
            parents.update((down,) if isinstance(down, str) else (down or ()))
    except (ValueError, SyntaxError):  # written in a form the line reader does not know
        from alembic.script import ScriptDirectory
        return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())
    return tuple(sorted(revisions - parents))


def head_revisions() -> tuple[str, ...]:
    """The newest revision(s) in migrations/versions (read once per process)."""
    return _heads()


def open_catalog(url: str, **engine_options) -> Catalog:
    """Open the catalogue at ``url`` (does not create tables: call ``.upgrade()``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine_options.setdefault("connect_args", {}).setdefault("timeout", SQLITE_BUSY_TIMEOUT_S)
        engine = create_engine(parsed, **engine_options)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine_options.setdefault("pool_pre_ping", True)
        engine = create_engine(parsed, **engine_options)
        event.listen(engine, "connect", _postgresql_settings)
    return Catalog(engine)


def claim_writer(session: Session) -> None:
    """On SQLite, make this transaction the database's one writer now, before it reads.

    A SQLite transaction that has read and then tries to write cannot wait for another
    writer (its snapshot may already be stale), so it fails at once with "database is
    locked" whatever busy_timeout says; one that writes first waits its turn instead.
    PostgreSQL needs nothing here: its row locks and unique constraints decide.
    """
    if session.get_bind().dialect.name == "sqlite":
        # A write that changes nothing takes SQLite's single RESERVED (writer) lock.
        session.execute(text("UPDATE alembic_version SET version_num = version_num WHERE 0"))


def _postgresql_settings(dbapi_connection, _record) -> None:
    # psycopg prepares a statement run five times on a connection, and PostgreSQL then
    # plans it once for any parameters (a generic plan): a search's plan depends on how
    # common its words are, and a pooled connection ran every search on the plan of the
    # first words it saw ("nam" 37 -> 140 ms, a phrase 0.5 -> 1.4 s at a million records).
    # JIT compiling is for long analytical queries: a search over a million records is
    # estimated costly enough to be compiled, which took 11 ms of a 66 ms search.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SET plan_cache_mode = force_custom_plan")
        cursor.execute("SET jit = off")
    finally:
        cursor.close()
    dbapi_connection.commit()  # a SET in a transaction rolled back would be undone


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # SQLite leaves foreign keys off unless asked, per connection; WAL lets readers work
    # while one writer writes (https://www.sqlite.org/wal.html).
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        # A search at a million records looks up 10,000 rows scattered through the index
        # and the table: mapped pages are shared by every connection and process, where a
        # page cache is per connection and each miss is a system call.
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    finally:
        cursor.close()
