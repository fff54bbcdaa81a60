"""The floor under the search benchmark: what each database's own full text costs for the
bare work, on the same records and the same 20 queries.

A bare index of the records, nothing of Kho in it: the folded text of the four weighted
fields (title, creator, subject, the rest) and a token per facet value, so that a filtered
query narrows in the index as Kho's does. No access rule, no tones, no pair keys, no facet
counts; a prefix standing for at most 24 words is asked as those words, as Kho asks it.

* SQLite: a contentless FTS5 table; ``bm25`` with field weights.
* PostgreSQL, stored: a table (id, tsvector with weights A-D) with a GIN index, what the
  issue names (the ``simple`` configuration on folded text, ``ts_rank`` with weights).
* PostgreSQL, recomputed: the text alone in a table (as the catalogue already keeps it)
  and a GIN index on the weighted vector computed from it; the index then adds only the
  GIN, and each match's vector is computed again to rank it.

Three floors per query, each the least any search doing that work can cost there:

* page: the first 20 matches, in no order and not counted;
* counted: the matches counted up to the cap (finder.TOTAL_CAP + 1, as Kho counts);
* ranked: the same first matches counted and ranked by the engine's own rank, and the
  best 20 returned: what "ranked, with a total" asks, at the least.

``search.py`` runs it after Kho's own queries on the catalogue it loaded. Alone, it makes
the same records (search.make_record, the same seed) without loading Kho at all:

    .venv/bin/python benchmarks/search_floor.py --records 1000000 --backends postgresql
"""
from __future__ import annotations

import argparse
import bisect
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import select, text  # noqa: E402

from repository.catalog import Aip, Collection, DublinCoreRecord, open_catalog  # noqa: E402
from repository.search.documents import decades_of, describe  # noqa: E402
from repository.search.finder import MAX_PREFIX_WORDS, TOTAL_CAP  # noqa: E402
from repository.search.query import Query, parse_query, parse_years  # noqa: E402
from repository.search.schema import FIELD_WEIGHTS, TEXT_COLUMNS  # noqa: E402

SQLITE_COLUMNS = "{" + " ".join(TEXT_COLUMNS) + "}"
BATCH = 5000

_VECTOR = ("setweight(to_tsvector('simple'::regconfig, {t}), 'A') || "
           "setweight(to_tsvector('simple'::regconfig, {c}), 'B') || "
           "setweight(to_tsvector('simple'::regconfig, {s}), 'C') || "
           "setweight(to_tsvector('simple'::regconfig, {b}), 'D') || "
           "array_to_tsvector(string_to_array({f}, ' '))")
_UNNEST = ("FROM unnest(%(id)s::int[], %(t)s::text[], %(c)s::text[], %(s)s::text[], "
           "%(b)s::text[], %(f)s::text[]) AS u(id, t, c, s, b, f)")
PG_CREATE = [
    "DROP TABLE IF EXISTS floor_docs", "DROP TABLE IF EXISTS floor_text",
    "CREATE TABLE floor_docs (id integer PRIMARY KEY, v tsvector)",
    "CREATE TABLE floor_text (id integer PRIMARY KEY, t text, c text, s text, b text, f text)",
    # IMMUTABLE: the simple configuration's parser and dictionary never change their mind.
    "CREATE OR REPLACE FUNCTION floor_vector(t text, c text, s text, b text, f text) "
    "RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT "
    + _VECTOR.format(t="t", c="c", s="s", b="b", f="f") + " $$",
]
PG_INSERT = [
    "INSERT INTO floor_docs SELECT u.id, "
    + _VECTOR.format(t="u.t", c="u.c", s="u.s", b="u.b", f="u.f") + " " + _UNNEST,
    "INSERT INTO floor_text SELECT u.id, u.t, u.c, u.s, u.b, u.f " + _UNNEST,
]
PG_INDEX = ["CREATE INDEX floor_docs_v ON floor_docs USING gin (v)",
            "CREATE INDEX floor_text_v ON floor_text USING gin (floor_vector(t, c, s, b, f))"]
_PG_QUERIES = {
    "page": "SELECT id FROM {table} WHERE {v} @@ CAST(%(q)s AS tsquery) LIMIT 20",
    "counted": "SELECT count(*) FROM (SELECT 1 FROM {table} "
               "WHERE {v} @@ CAST(%(q)s AS tsquery) LIMIT {limit}) AS s",
    "ranked": "WITH c AS MATERIALIZED (SELECT id, ts_rank({v}, CAST(%(q)s AS tsquery)) AS r "
              "FROM {table} WHERE {v} @@ CAST(%(q)s AS tsquery) LIMIT {limit}) "
              "SELECT id, (SELECT count(*) FROM c) FROM c ORDER BY r DESC, id DESC LIMIT 20",
}
PG_VARIANTS = {"stored": {"table": "floor_docs", "v": "v"},
               "recomputed": {"table": "floor_text", "v": "floor_vector(t, c, s, b, f)"}}

SQLITE_CREATE = ["DROP TABLE IF EXISTS floor_fts",
                 "CREATE VIRTUAL TABLE floor_fts USING fts5(title, creator, subject, body, "
                 "filters, content='', tokenize='unicode61 remove_diacritics 0')"]
SQLITE_INSERT = ("INSERT INTO floor_fts(rowid, title, creator, subject, body, filters) "
                 "VALUES (?, ?, ?, ?, ?, ?)")
SQLITE_QUERIES = {
    "page": "SELECT rowid FROM floor_fts WHERE floor_fts MATCH ? ORDER BY rowid DESC LIMIT 20",
    "counted": "SELECT count(*) FROM (SELECT rowid FROM floor_fts WHERE floor_fts MATCH ? "
               "ORDER BY rowid DESC LIMIT {limit})",
    "ranked": "WITH c AS MATERIALIZED (SELECT rowid AS id, "
              "bm25(floor_fts, 10.0, 5.0, 3.0, 1.0, 0.0) AS r FROM floor_fts "
              "WHERE floor_fts MATCH ? ORDER BY rowid DESC LIMIT {limit}) "
              "SELECT id, (SELECT count(*) FROM c) FROM c ORDER BY r, id DESC LIMIT 20",
}


class Vocabulary:
    """The bare index's facet tokens ("f12", as Kho's filters column has), its words (to
    ask a prefix as the words it stands for) and the collections' ids by name."""

    def __init__(self) -> None:
        self.facets: dict[tuple[str, str], int] = {}
        self.words: set[str] = set()
        self.collection_ids: dict[str, int] = {}
        self._sorted: list[str] | None = None

    def token(self, facet: str, value: str) -> str:
        return f"f{self.facets.setdefault((facet, value), len(self.facets))}"

    def known(self, facet: str, value: str) -> str | None:
        number = self.facets.get((facet, value))
        return None if number is None else f"f{number}"

    def prefixed(self, start: str) -> list[str]:
        """The words starting with ``start``, if at most MAX_PREFIX_WORDS (finder.known_words)."""
        if self._sorted is None:
            self._sorted = sorted(self.words)
        first = bisect.bisect_left(self._sorted, start)
        words = []
        for word in self._sorted[first:first + MAX_PREFIX_WORDS + 1]:
            if not word.startswith(start):
                break
            words.append(word)
        return words if len(words) <= MAX_PREFIX_WORDS else []


def catalogued(catalog):
    """(id, Dublin Core record, collection id) of every record in Kho's catalogue."""
    with catalog.engine.connect() as c:
        yield from c.execution_options(yield_per=BATCH).execute(
            select(DublinCoreRecord.aip_id, DublinCoreRecord.record, Aip.collection_id)
            .join(Aip, Aip.id == DublinCoreRecord.aip_id))


def collections(catalog) -> dict[str, int]:
    """The catalogue's collections' ids by name."""
    with catalog.engine.connect() as c:
        return dict(c.execute(select(Collection.name, Collection.id)).all())


class Generated:
    """The same records as search.load(catalog, count, seed), without a catalogue;
    ``text_bytes``, once iterated: the bytes of their Dublin Core text, counted as
    search.load counts them."""

    def __init__(self, count: int, seed: int = 11) -> None:
        self.count, self.seed, self.text_bytes = count, seed, 0

    def __iter__(self):
        import search  # noqa: PLC0415 (beside this script; it imports this module too)
        for n, record, _, collection in search.records(self.count, self.seed):
            self.text_bytes += search.text_bytes(record)
            # search.load creates the collections in this order, so their ids are these.
            yield n + 1, record, search.COLLECTIONS.index(collection) + 1


def build(catalog, rows, collections: dict[str, int]) -> tuple[Vocabulary, float]:
    """Write the bare index (indexes) of ``rows`` (``catalogued``'s or ``Generated``'s),
    whose collections' ids by name are ``collections``; its vocabulary and the seconds
    taken."""
    postgres = catalog.engine.dialect.name == "postgresql"
    vocabulary = Vocabulary()
    vocabulary.collection_ids = dict(collections)
    started = time.perf_counter()
    with catalog.engine.connect() as writing:
        for statement in PG_CREATE if postgres else SQLITE_CREATE:
            writing.exec_driver_sql(statement)
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH:
                _write(writing, postgres, vocabulary, batch)
                batch = []
        if batch:
            _write(writing, postgres, vocabulary, batch)
        for statement in PG_INDEX if postgres else [
                "INSERT INTO floor_fts(floor_fts) VALUES ('optimize')"]:
            writing.exec_driver_sql(statement)
        writing.commit()
    if postgres:
        with catalog.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE floor_docs")
            c.exec_driver_sql("VACUUM ANALYZE floor_text")
    return vocabulary, time.perf_counter() - started


def _write(connection, postgres: bool, vocabulary: Vocabulary, rows) -> None:
    documents = []
    for aip_id, record, collection_id in rows:
        doc = describe(record)
        vocabulary.words.update(doc.words())
        facets = [vocabulary.token(*facet) for facet in sorted(doc.facets)]
        facets.append(vocabulary.token("collection", str(collection_id)))
        documents.append((aip_id, doc.title, doc.creator, doc.subject, doc.body,
                          " ".join(facets)))
    if not postgres:
        connection.exec_driver_sql(SQLITE_INSERT, documents)
        return
    columns = list(zip(*documents))
    arguments = {"id": list(columns[0]), "t": list(columns[1]), "c": list(columns[2]),
                 "s": list(columns[3]), "b": list(columns[4]),
                 # Marked so no word of the text is taken for a filter token.
                 "f": ["#" + " #".join(f.split()) for f in columns[5]]}
    for statement in PG_INSERT:
        connection.exec_driver_sql(statement, arguments)


def size_bytes(catalog) -> dict[str, int]:
    """Bytes of each bare index: SQLite's FTS5 tables; PostgreSQL's stored vectors with
    their GIN index, and the recomputed variant's GIN index alone."""
    with catalog.engine.connect() as c:
        if catalog.engine.dialect.name == "postgresql":
            return {"stored": c.scalar(text("SELECT pg_total_relation_size('floor_docs')")),
                    "recomputed": c.scalar(text("SELECT pg_relation_size('floor_text_v')"))}
        return {"fts5": c.scalar(text(
            "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'floor_fts%'"))}


def _filter_groups(vocabulary: Vocabulary, query: Query,
                   filters: dict) -> list[list[str]] | None:
    """Groups of facet tokens (one of each must be held); None if a filter matches nothing."""
    groups = []
    for facet in ("collection", "type", "lang"):
        for value in filters.get(facet, []):
            if facet == "collection":
                value = str(vocabulary.collection_ids.get(value))
            token = vocabulary.known(facet, value)
            if token is None:
                return None
            groups.append([token])
    for years in filter(None, (query.years, filters.get("date") and parse_years(filters["date"]))):
        decades = [vocabulary.known("decade", str(d)) for d in decades_of(*years)]
        groups.append([d for d in decades if d] or ["none"])
    return groups


def postgres_query(query: Query, vocabulary: Vocabulary, groups: list[list[str]]) -> str:
    parts = []
    for term in query.terms:
        weight = FIELD_WEIGHTS.get(term.field or "", "")
        suffix = ":" + weight if weight else ""
        lexemes = [f"'{t}'{suffix}" for t in term.tokens]
        words = vocabulary.prefixed(term.tokens[-1]) if term.prefix else []
        if words:
            lexemes[-1] = "(" + " | ".join(f"'{w}'{suffix}" for w in words) + ")"
        elif term.prefix:
            lexemes[-1] = f"'{term.tokens[-1]}':*{weight}"
        parts.append("(" + " <-> ".join(lexemes) + ")")
    parts += ["(" + " | ".join(f"'#{t}'" for t in group) + ")" for group in groups]
    return " & ".join(parts)


def sqlite_query(query: Query, vocabulary: Vocabulary, groups: list[list[str]]) -> str:
    parts = []
    for term in query.terms:
        columns = term.field or SQLITE_COLUMNS
        words = vocabulary.prefixed(term.tokens[-1]) if term.prefix else []
        if words:
            phrases = " OR ".join('"' + " ".join((*term.tokens[:-1], w)) + '"' for w in words)
            parts.append(f"{columns} : ({phrases})")
        else:
            parts.append(f'{columns} : "' + " ".join(term.tokens) + '"'
                         + (" *" if term.prefix else ""))
    parts += ["filters : (" + " OR ".join(f'"{t}"' for t in group) + ")" for group in groups]
    return " AND ".join(parts)


def measure(catalog, vocabulary: Vocabulary, queries, repeats: int,
            caps: tuple[int, ...] = ()) -> dict:
    """Per variant: each floor's milliseconds, every run over ``queries``, and per query
    the medians and the number of matches (counted up to the cap + 1). ``caps``: other
    caps than Kho's to count and rank up to ("counted 2000", "ranked 2000")."""
    postgres = catalog.engine.dialect.name == "postgresql"
    compiled = []
    for typed, filters in queries:
        query = parse_query(typed)
        groups = _filter_groups(vocabulary, query, filters)
        compiled.append(None if groups is None or not query.terms and not groups else
                        (postgres_query if postgres else sqlite_query)(query, vocabulary,
                                                                       groups))
    floors = {(floor, TOTAL_CAP): floor for floor in ("page", "counted", "ranked")}
    floors.update({(floor, cap): f"{floor} {cap}" for cap in caps
                   for floor in ("counted", "ranked")})
    variants = ({name: {label: _PG_QUERIES[floor].format(limit=cap + 1, **names)
                        for (floor, cap), label in floors.items()}
                 for name, names in PG_VARIANTS.items()} if postgres else
                {"fts5": {label: SQLITE_QUERIES[floor].replace("{limit}", str(cap + 1))
                          for (floor, cap), label in floors.items()}})
    out = {}
    with catalog.engine.connect() as c:
        for variant, statements in variants.items():
            times: dict[str, list[float]] = {name: [] for name in statements}
            per_query = []
            for expression in compiled:
                medians = {"matches": 0}   # and how many matched, up to the cap + 1
                for name, sql in statements.items():
                    if expression is None:  # a filter no record has: nothing to read
                        medians[name] = 0.0
                        continue
                    arguments = {"q": expression} if postgres else (expression,)
                    # Warm, as Kho's queries are.
                    first = c.exec_driver_sql(sql, arguments).all()
                    if name == "counted":
                        medians["matches"] = first[0][0]
                    runs = []
                    for _ in range(repeats):
                        start = time.perf_counter()
                        c.exec_driver_sql(sql, arguments).all()
                        runs.append((time.perf_counter() - start) * 1000)
                    times[name] += runs
                    medians[name] = statistics.median(runs)
                per_query.append(medians)
            out[variant] = {"times": times, "per_query": per_query}
    return out


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def report(floors: dict, sizes: dict, dc_text_mb: float, kho_plain_p95: float | None = None):
    """Print each variant's size and its floors' p95 (and p50 of the ranked floor)."""
    labels = {"fts5": "SQLite FTS5, contentless",
              "stored": "PostgreSQL, stored tsvector + GIN",
              "recomputed": "PostgreSQL, GIN on the vector computed from the text (GIN alone)"}
    for variant, measured in floors.items():
        times = measured["times"]
        p95 = {name: percentile(values, 95) for name, values in times.items()}
        mb = sizes[variant] / 1e6
        line = (f"floor, {labels[variant]}: {mb:.1f} MB ({mb / dc_text_mb:.2f}× the text); "
                f"p95 first page {p95['page']:.1f} ms, counted to the cap "
                f"{p95['counted']:.1f} ms, counted and ranked {p95['ranked']:.1f} ms "
                f"(p50 {percentile(times['ranked'], 50):.1f})")
        for cap in sorted({int(name.split()[1]) for name in times if " " in name}):
            line += (f"; with a cap of {cap:,}: counted {p95[f'counted {cap}']:.1f} ms, "
                     f"ranked {p95[f'ranked {cap}']:.1f} ms")
        if kho_plain_p95 is not None:
            line += (f"; Kho's p95 without facets ÷ the counted floor's = "
                     f"{kho_plain_p95 / p95['counted']:.2f}, ÷ the ranked floor's = "
                     f"{kho_plain_p95 / p95['ranked']:.2f}")
        print(line)


def main() -> None:
    import search  # noqa: PLC0415
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--caps", default="",
                        help="other caps to count and rank up to, comma-separated (2000,5000)")
    args = parser.parse_args()
    caps = tuple(int(cap) for cap in args.caps.split(",") if cap)
    names = {name: n for n, name in enumerate(search.COLLECTIONS, 1)}
    for backend in args.backends.split(","):
        print(f"\n== {backend}, {args.records:,} records ==")
        with tempfile.TemporaryDirectory(prefix="kho-search-floor-") as folder:
            admin = name = None
            if backend == "sqlite":
                url = f"sqlite:///{folder}/floor.sqlite3"
            else:
                admin, name, url = search.postgres_database()
            catalog = open_catalog(url)
            try:
                records = Generated(args.records)
                vocabulary, seconds = build(catalog, records, names)
                print(f"made and indexed in {seconds:.1f} s; Dublin Core text "
                      f"{records.text_bytes / 1e6:.1f} MB")
                report(measure(catalog, vocabulary, search.QUERIES, search.REPEATS, caps),
                       size_bytes(catalog), records.text_bytes / 1e6)
            finally:
                catalog.dispose()
                if admin is not None:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    admin.close()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
