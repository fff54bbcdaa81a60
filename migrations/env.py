"""Alembic environment for Kho's catalogue.

The database URL comes, in order, from: a connection handed in by
``Catalog.upgrade()``; ``alembic -x url=...``; the ``sqlalchemy.url`` set on the Config
programmatically; Kho's settings (KHO_DATABASE_URL, else the embedded SQLite file).
"""
from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from repository.catalog.database import load_all_models
from repository.search.schema import include_object

config = context.config

# Every room's tables share repository.catalog.models.Base.metadata; this imports the
# rooms that have models (repository.ingest.models, repository.fixity.models, see
# MODEL_MODULES) so autogenerate and the schema test know their tables.
target_metadata = load_all_models()


def _url() -> str:
    x_args = context.get_x_argument(as_dictionary=True)
    url = x_args.get("url") or config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from repository.config import load_settings
    return load_settings().catalog_url


def _configure(**kwargs) -> None:
    context.configure(
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=True,
        compare_type=True,
        # The search backends' FTS5 table and tsvector columns are not in the models.
        include_object=include_object,
        **kwargs,
    )


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    from repository.catalog.database import open_catalog
    catalog = open_catalog(_url())  # same pragmas, creates the SQLite folder
    try:
        with catalog.engine.begin() as connection:
            _configure(connection=connection)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        catalog.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
