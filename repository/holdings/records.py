"""One item as read from a register file, before it meets the database."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Attributes an import may set on an item (status and collection are handled apart).
ITEM_FIELDS = ("shelfmark", "title", "parallel_titles", "creator", "date", "item_type",
               "languages", "scripts", "rare", "condition", "pages", "priority", "notes")


@dataclass
class ItemRecord:
    """The values one row (or MARC record) gives; attributes it does not give are absent,
    so a re-import of a partial file leaves them as they were."""

    row: int
    values: dict[str, Any] = field(default_factory=dict)
    collection: str | None = None
    status: str | None = None
    key: str = ""  # vocabulary.shelfmark_key of the shelfmark, computed once

    @property
    def shelfmark(self) -> str:
        return self.values["shelfmark"]
