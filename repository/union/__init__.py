"""union room: other libraries' records harvested over OAI-PMH into a union catalogue,
kept apart from Kho's own AIPs, with their provenance. The search room indexes them beside
the AIPs (repository/search/union.py: one work, every holder)."""
from repository.union.harvest import (HarvestReport, add_source, due_sources, get_source,
                                      harvest_all, harvest_source, last_harvest, list_sources)
from repository.union.models import UnionHarvest, UnionRecord, UnionSource

__all__ = ["HarvestReport", "add_source", "due_sources", "get_source", "harvest_all",
           "harvest_source", "last_harvest", "list_sources", "UnionHarvest", "UnionRecord",
           "UnionSource"]
