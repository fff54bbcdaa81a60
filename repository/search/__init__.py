"""Search (the catalogue's finding aid): one fold, a query language, two backends, facets.

Doors call ``search`` (Kho's AIPs) and ``search_works`` (the union catalogue: AIPs and
harvested records, one result per work with every holder); catalogue transactions keep the
index in step by themselves (``upkeep.keep_index_in_step``), harvested records included;
``reindex`` rebuilds it, ``drop_aip`` takes an AIP out; ``index_status`` says what it
holds and whether a rebuild is worth it.
"""
from repository.search.finder import Filters, Hit, SearchResult, search
from repository.search.query import FIELDS, Query, Term, parse_query, parse_years
from repository.search.status import IndexStatus, index_status
from repository.search.tokens import search_form, search_tokens
from repository.search.upkeep import (count_union_documents, drop_aip, index_aips,
                                      index_union_records, reindex)
from repository.search.works import Holder, Work, WorkResult, search_works

__all__ = ["Filters", "Hit", "SearchResult", "search", "FIELDS", "Query", "Term",
           "parse_query", "parse_years", "search_form", "search_tokens", "drop_aip",
           "index_aips", "reindex", "count_union_documents", "index_union_records", "Holder",
           "Work", "WorkResult", "search_works", "IndexStatus", "index_status"]
