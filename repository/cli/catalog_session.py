"""One catalogue session for a command, on the schema brought up to date (imports stay lazy:
`kho --help` must not pay for SQLAlchemy)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from repository.config import load_settings


@contextmanager
def catalog_session() -> Iterator:
    """A session on the configured catalogue, committed on success; the engine is closed after."""
    from repository.catalog import open_catalog
    db = open_catalog(load_settings().catalog_url)
    try:
        db.upgrade()
        with db.session() as session:
            yield session
    finally:
        db.dispose()
