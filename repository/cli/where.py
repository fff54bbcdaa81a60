"""Where this `kho` keeps its data, and a warning when that repository is empty.

Run from another folder or with another environment, `kho` must never quietly work on a
second, empty repository while the user believes they are looking at their holdings.
"""
from __future__ import annotations

import click
from sqlalchemy import func, select
from sqlalchemy.engine import make_url


def catalog_shown(settings) -> str:
    """The catalogue's URL without its password."""
    try:
        return make_url(settings.catalog_url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown as the user wrote it
        return settings.catalog_url


def where_lines(settings) -> list[str]:
    return [f"data folder: {settings.data_dir} (KHO_DATA_DIR)",
            f"catalogue:   {catalog_shown(settings)}"]


def empty_warning(settings) -> str:
    """The warning for a command that found nothing in an empty repository."""
    where = "; ".join(" ".join(line.split()) for line in where_lines(settings))
    return (f"warning: this repository is empty; {where}. Set KHO_DATA_DIR if your holdings "
            "are elsewhere.")


def is_empty(session) -> bool:
    """No AIP, no collection and no user: a repository nobody has used yet."""
    from repository.catalog import Aip, Collection, User
    return not any(session.scalar(select(func.count()).select_from(table))
                   for table in (Aip, Collection, User))


def warn_if_empty(settings, catalog) -> None:
    """On stderr: say that this repository is empty and where it is, and how to point at
    another one."""
    with catalog.session() as session:
        empty = is_empty(session)
    if empty:
        click.echo(f"warning: the repository at {settings.data_dir} is empty (no AIPs, "
                   "collections or users). If you expected your holdings, set KHO_DATA_DIR "
                   f"(or KHO_DATABASE_URL) to where they are; catalogue: "
                   f"{catalog_shown(settings)}", err=True)
