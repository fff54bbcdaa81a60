"""Linking AIPs to register items by shelfmark, and what an item's AIPs say about it.

At ingest, the bag-info field named by KHO_HOLDINGS_LINK_FIELD (External-Identifier by
default) is recorded beside the AIP (``record_aip_shelfmark``); `kho holdings link` reads it
again from storage for AIPs ingested before, or after the field was changed. Whether an
item is preserved or published is never stored: it is decided in SQL, when asked, from the
AIPs that carry its shelfmark and their access, so a later ingest, a new register row or an
access change counts at once.
"""
from __future__ import annotations

import unicodedata
from datetime import date

from sqlalchemy import and_, case, exists, func, not_, or_, select
from sqlalchemy.orm import Session, aliased

from repository.catalog.models import Aip, AipFile, Collection
from repository.holdings.models import AipShelfmark, HoldingItem, HoldingLibrary
from repository.holdings.vocabulary import shelfmark_key
from repository.metadata.text import fold_for_search

ORGANIZATION_FIELD = "Source-Organization"


def _first(bag_info: dict[str, list[str]], name: str) -> str:
    """The first non-empty value of a bag-info field; BagIt labels are matched without case."""
    for label, values in bag_info.items():
        if label.strip().casefold() == name.strip().casefold():
            for value in values:
                if value and value.strip():
                    return " ".join(unicodedata.normalize("NFC", value).split())
    return ""


def record_aip_shelfmark(session: Session, aip_id: int, bag_info: dict[str, list[str]],
                         field: str) -> str | None:
    """Remember the shelfmark an AIP's bag-info carries in ``field`` (None if it has none)."""
    shelfmark = _first(bag_info, field)
    row = session.get(AipShelfmark, aip_id)
    if not shelfmark:
        if row is not None:
            session.delete(row)
        return None
    if row is None:
        row = AipShelfmark(aip_id=aip_id)
        session.add(row)
    row.shelfmark, row.shelfmark_key, row.field = shelfmark[:500], shelfmark_key(shelfmark)[:500], field
    row.organization_key = fold_for_search(_first(bag_info, ORGANIZATION_FIELD))[:500]
    return shelfmark


def link_stored_aips(session: Session, settings, *, only_missing: bool = False) -> dict[str, int]:
    """Read each AIP's bag-info.txt from storage again and record its shelfmark."""
    from repository.bagit.bag import decode_tag_file, parse_tags
    from repository.storage import get_location
    done = {"aips": 0, "linked": 0, "unreadable": 0}
    query = select(Aip.id, Aip.location, Aip.object_root, AipFile.content_path).join(
        AipFile, and_(AipFile.aip_id == Aip.id, AipFile.version == Aip.current_version,
                      AipFile.logical_path == "bag-info.txt"))
    if only_missing:
        query = query.where(~exists().where(AipShelfmark.aip_id == Aip.id))
    locations = {}
    for aip_id, location, root, content_path in session.execute(query.order_by(Aip.id)).all():
        done["aips"] += 1
        try:
            storage = locations.get(location) or locations.setdefault(
                location, get_location(settings, location))
            key = f"{root.rstrip('/')}/{content_path}" if root else content_path
            with storage.open(key) as stream:
                text, _problems = decode_tag_file(stream.read(), "UTF-8", "bag-info.txt")
        except Exception:  # a location down or an object damaged: say so, link the rest
            done["unreadable"] += 1
            continue
        pairs, _problems = parse_tags(text or "", "bag-info.txt")
        info: dict[str, list[str]] = {}
        for label, value in pairs:
            info.setdefault(label, []).append(value)
        if record_aip_shelfmark(session, aip_id, info, settings.holdings_link_field):
            done["linked"] += 1
    return done


def published_condition(today: date):
    """SQL: the AIP (and its collection) may be read by the public or by registered readers,
    i.e. it is not under an embargo that is still running (access/rights.py's rule)."""
    def open_(level, until):
        return not_(and_(level == "embargoed", or_(until.is_(None), until > today)))
    return and_(open_(Aip.access, Aip.embargo_until),
                open_(Collection.access, Collection.embargo_until))


def item_aip_state(today: date):
    """Subquery (item_id, preserved_at, published) for items with at least one linked AIP.

    An AIP links to every item whose shelfmark it carries, except that when its bag's
    Source-Organization names a library that holds that shelfmark, only to that library's.
    The AIPs are grouped by shelfmark first, so the query walks the (fewer) linked AIPs
    and finds their items by index, instead of scanning every item of the register.
    """
    keys = (select(AipShelfmark.shelfmark_key.label("shelfmark_key"),
                   AipShelfmark.organization_key.label("organization_key"),
                   func.min(Aip.created_at).label("preserved_at"),
                   func.max(case((published_condition(today), 1), else_=0)).label("published"))
            .join(Aip, Aip.id == AipShelfmark.aip_id)
            .join(Collection, Collection.id == Aip.collection_id)
            .group_by(AipShelfmark.shelfmark_key, AipShelfmark.organization_key)
            .subquery("aip_keys"))
    other_item, other_library = aliased(HoldingItem), aliased(HoldingLibrary)
    organization_holds_it = exists(
        select(other_item.id).join(other_library, other_library.id == other_item.library_id)
        .where(other_item.shelfmark_key == keys.c.shelfmark_key,
               other_library.name_key == keys.c.organization_key))
    return (select(HoldingItem.id.label("item_id"),
                   func.min(keys.c.preserved_at).label("preserved_at"),
                   func.max(keys.c.published).label("published"))
            .select_from(keys)
            .join(HoldingItem, HoldingItem.shelfmark_key == keys.c.shelfmark_key)
            .join(HoldingLibrary, HoldingLibrary.id == HoldingItem.library_id)
            .where(or_(keys.c.organization_key == "",
                       keys.c.organization_key == HoldingLibrary.name_key,
                       ~organization_holds_it))
            .group_by(HoldingItem.id)
            .subquery("item_aip_state"))


def linked_aips(session: Session, item: HoldingItem) -> list[str]:
    """Identifiers of the AIPs linked to one item, oldest first."""
    other_item, other_library = aliased(HoldingItem), aliased(HoldingLibrary)
    organization_holds_it = exists(
        select(other_item.id).join(other_library, other_library.id == other_item.library_id)
        .where(other_item.shelfmark_key == AipShelfmark.shelfmark_key,
               other_library.name_key == AipShelfmark.organization_key))
    library_key = session.scalar(select(HoldingLibrary.name_key)
                                 .where(HoldingLibrary.id == item.library_id))
    return list(session.scalars(
        select(Aip.identifier).join(AipShelfmark, AipShelfmark.aip_id == Aip.id)
        .where(AipShelfmark.shelfmark_key == item.shelfmark_key,
               or_(AipShelfmark.organization_key == "",
                   AipShelfmark.organization_key == library_key, ~organization_holds_it))
        .order_by(Aip.created_at)))
