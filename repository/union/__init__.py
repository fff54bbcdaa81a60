"""union room: other libraries' records harvested over OAI-PMH into a union catalogue,
kept apart from Kho's own AIPs, with their provenance, grouped by work for search."""
from repository.union.harvest import (HarvestReport, add_source, due_sources, get_source,
                                      harvest_all, harvest_source, last_harvest, list_sources)
from repository.union.models import UnionHarvest, UnionRecord, UnionSource
from repository.union.search import (Holder, UnionSearchDocument, Work, search_union_catalogue,
                                     union_search_documents)

__all__ = ["HarvestReport", "add_source", "due_sources", "get_source", "harvest_all",
           "harvest_source", "last_harvest", "list_sources", "UnionHarvest", "UnionRecord",
           "UnionSource", "Holder", "UnionSearchDocument", "Work", "search_union_catalogue",
           "union_search_documents"]
