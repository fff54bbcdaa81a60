"""`kho search …`: search the catalogue from a terminal, rebuild the search index."""
from __future__ import annotations

import json

import click

from repository.config import load_settings


@click.group(short_help="Search the holdings; rebuild the search index.")
def search() -> None:
    """Search the holdings (as an archivist sees them); rebuild the search index."""


@search.command(short_help="Rebuild the search index from the catalogue.")
def reindex() -> None:
    """Rebuild the search index of every AIP and every harvested record of the union
    catalogue from the catalogue, in one transaction (searches see the old index until it
    commits)."""
    from repository.catalog import open_catalog
    from repository.search import count_union_documents
    from repository.search import reindex as rebuild_index
    db = open_catalog(load_settings().catalog_url)
    try:
        db.upgrade()
        with db.session() as session:
            done = rebuild_index(session)
            harvested = count_union_documents(session)
    finally:
        db.dispose()
    click.echo(f"indexed {done} AIPs and {harvested} union catalogue records")


@search.command(short_help="What the search index holds, its size, and whether to rebuild it.")
@click.option("--json", "as_json", is_flag=True, help="One JSON document.")
def status(as_json: bool) -> None:
    """Documents in the search index by kind, its size, and (SQLite) the entries that
    documents re-indexed or withdrawn since the last `kho search reindex` left behind."""
    from repository.catalog import open_catalog
    from repository.search import index_status
    db = open_catalog(load_settings().catalog_url)
    try:
        db.upgrade()
        with db.session() as session:
            state = index_status(session)
    finally:
        db.dispose()
    if as_json:
        click.echo(json.dumps(state.as_dict(), ensure_ascii=False))
        return
    kinds = ", ".join(f"{n:,} {kind}" for kind, n in state.documents.items()) or "nothing"
    click.echo(f"documents: {state.total:,} ({kinds}) on {state.backend}")
    if state.size_bytes is not None:
        click.echo(f"size: {state.size_bytes / 1e6:,.1f} MB")
    if state.backend == "sqlite":
        entries = "entry" if state.left_behind == 1 else "entries"
        click.echo(f"left behind: {state.left_behind:,} {entries} of documents re-indexed or "
                   f"withdrawn ({100 * state.left_behind_share:.1f}% of the full-text index)")
    if state.reindex_advised:
        click.echo("advice: run `kho search reindex` to drop them")


@search.command(name="query", short_help="Search as an archivist and print the hits.")
@click.argument("text")
@click.option("--page", default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON document: hits, total, facets.")
def query(text: str, page: int, as_json: bool) -> None:
    """Search for TEXT (same language as the web: "phrase", prefix*, title:, date:1890..1910)."""
    from datetime import date
    from repository.catalog import Reader, open_catalog
    from repository.search import search as run
    settings = load_settings()
    db = open_catalog(settings.catalog_url)
    try:
        db.upgrade()
        with db.session() as session:
            result = run(session, Reader("archivist", date.today()), text, page=page,
                         total_cap=settings.search_total_cap)
            hits = [{"identifier": h.aip.identifier,
                     "title": h.aip.dublin_core.title if h.aip.dublin_core else "",
                     "collection": h.aip.collection.name} for h in result.hits]
    finally:
        db.dispose()
    if as_json:
        click.echo(json.dumps({"total": result.total, "total_is_exact": result.total_is_exact,
                               "hits": hits, "facets": result.facets,
                               "did_you_mean": result.suggestion}, ensure_ascii=False))
        return
    for hit in hits:
        click.echo(f"{hit['identifier']}\t{hit['collection']}\t{hit['title']}")
    click.echo(("" if result.total_is_exact else "more than ") + f"{result.total} found" + (f"; did you mean: {result.suggestion}"
                                          if result.suggestion else ""), err=True)


COMMANDS = (search,)
