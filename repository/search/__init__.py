"""Search (the catalogue's finding aid): one fold, a query language, two backends, facets.

Doors call ``search``; catalogue transactions keep the index in step by themselves
(``upkeep.keep_index_in_step``); ``reindex`` rebuilds it, ``drop_aip`` takes an AIP out.
"""
from repository.search.finder import Filters, Hit, SearchResult, search
from repository.search.query import FIELDS, Query, Term, parse_query, parse_years
from repository.search.tokens import search_form, search_tokens
from repository.search.upkeep import drop_aip, index_aips, reindex

__all__ = ["Filters", "Hit", "SearchResult", "search", "FIELDS", "Query", "Term",
           "parse_query", "parse_years", "search_form", "search_tokens", "drop_aip",
           "index_aips", "reindex"]
