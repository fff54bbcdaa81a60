"""Each collection's OAI-PMH setSpec: a stable ASCII slug of its Vietnamese name.

OAI-PMH 2.0 §4.6 limits a setSpec to unreserved URI characters; harvesters store it in
their configuration, so it is given once, when the collection is made, and never changes
("Địa bạ" → "dia-ba"; a second name that folds the same gets "dia-ba-2").
"""
from __future__ import annotations

import re

from sqlalchemy import event, select

from repository.catalog.models import Collection
from repository.metadata.text import fold_for_search

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slug_for(name: str) -> str:
    """``name`` folded to lower-case ASCII words joined by hyphens ("Hán-Nôm" → "han-nom")."""
    slug = _NOT_SLUG.sub("-", fold_for_search(name)).strip("-")
    return slug[:180] or "collection"


def unused_set_spec(connection, name: str) -> str:
    base = slug_for(name)
    taken = set(connection.scalars(select(Collection.set_spec).where(
        Collection.set_spec.like(f"{base}%"))))
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


@event.listens_for(Collection, "before_insert")
def _give_set_spec(_mapper, connection, collection: Collection) -> None:
    if not collection.set_spec:
        collection.set_spec = unused_set_spec(connection, collection.name)
