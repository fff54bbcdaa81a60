"""IIIF Presentation 3.0 manifests (one per AIP with page images) and collections, built with iiif-prezi3.

The reading order is the natural order of the page images' names (``trang 2`` before
``trang 10``) unless the bag carries ``metadata/structure.json`` (see docs/iiif.md), whose
listed files come first, in its order, and whose nested groups become ``structures``
ranges. A built manifest is kept in an in-process LRU keyed by AIP, version and base URL.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any, Iterable
from urllib.parse import quote

import iiif_prezi3 as prezi
from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from repository.access.image_resolver import image_id
from repository.catalog.visibility import Reader, readable_aips
from repository.catalog import Aip, AipFile, Collection, DublinCoreRecord
from repository.config import Settings
from repository.errors import NotFound
from repository.metadata import language_map, primary_title, title_label
from repository.storage import get_location

log = logging.getLogger(__name__)

CONTEXT = "http://iiif.io/api/presentation/3/context.json"
MEDIA_TYPE = f'application/ld+json;profile="{CONTEXT}"'
IMAGE_PROFILE = "level2"
STRUCTURE_FILE = "metadata/structure.json"
STRUCTURE_MAX_BYTES = 4 * 1024 * 1024
COLLECTION_PAGE_SIZE = 100
THUMBNAIL_SIZE = 200
OAI_DC_PROFILE = "http://www.openarchives.org/OAI/2.0/oai_dc/"
# Presentation 3.0 §3.3.1 `rights`: one URI from Creative Commons or RightsStatements.org,
# always http (the schema and the spec ask for the http form of both).
_RIGHTS_URI = re.compile(
    r"^https?://(creativecommons\.org/(licenses|publicdomain)/|rightsstatements\.org/vocab/)\S*$")
_TEXT_TYPES = {"text", "http://purl.org/dc/dcmitype/text"}
# Vietnamese and English labels of the Dublin Core elements shown as manifest metadata.
DC_LABELS = {
    "title": ("Nhan đề", "Title"), "creator": ("Tác giả", "Creator"),
    "subject": ("Chủ đề", "Subject"), "description": ("Mô tả", "Description"),
    "publisher": ("Nhà xuất bản", "Publisher"), "contributor": ("Người đóng góp", "Contributor"),
    "date": ("Thời gian", "Date"), "type": ("Loại hình", "Type"),
    "format": ("Định dạng", "Format"), "identifier": ("Định danh", "Identifier"),
    "source": ("Nguồn", "Source"), "language": ("Ngôn ngữ", "Language"),
    "relation": ("Liên quan", "Relation"), "coverage": ("Phạm vi", "Coverage"),
    "rights": ("Quyền", "Rights"),
}


# --- page images and their order -----------------------------------------------------------

@dataclass(frozen=True)
class PageImage:
    """One page image of an AIP's current version, as the manifest shows it."""

    image_id: str
    logical_path: str
    width: int
    height: int
    mime_type: str


@dataclass(frozen=True)
class RangeSpec:
    """A labelled group of pages (a volume, a chapter) from ``structure.json``."""

    label: dict[str, list[str]]
    items: tuple["str | RangeSpec", ...]


@dataclass(frozen=True)
class Structure:
    """The bag's explicit reading order and table of contents."""

    order: tuple[str, ...]
    ranges: tuple[RangeSpec, ...] = ()


def natural_key(path: str) -> tuple:
    """Sort key putting ``trang 2`` before ``trang 10`` (digits compare as numbers)."""
    parts = re.split(r"(\d+)", unicodedata.normalize("NFC", path).casefold())
    # re.split alternates text and digits, so equal positions always hold equal types.
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


def page_images(files: Iterable[AipFile], aip_identifier: str) -> list[PageImage]:
    """The payload images (with known size) among ``files``, in natural order of their paths."""
    pages = [PageImage(image_id(aip_identifier, f.sha512), f.logical_path, f.width, f.height,
                       f.mime_type)
             for f in files
             if f.role == "payload" and (f.mime_type or "").startswith("image/")
             and f.width and f.height]
    return sorted(pages, key=lambda p: natural_key(p.logical_path))


def _structure_path(path: str) -> str:
    path = unicodedata.normalize("NFC", path.strip().lstrip("/"))
    return path if path.startswith("data/") else f"data/{path}"


def _label(value: Any) -> dict[str, list[str]]:
    """A structure label: a string (no language) or a map of language → string or strings."""
    if isinstance(value, str) and value.strip():
        return {"none": [unicodedata.normalize("NFC", value.strip())]}
    if isinstance(value, dict) and value:
        out = {}
        for lang, text in value.items():
            texts = [text] if isinstance(text, str) else text
            if not isinstance(lang, str) or not isinstance(texts, list) or \
                    not all(isinstance(t, str) for t in texts):
                raise ValueError(f"label {value!r} must map languages to strings")
            out[lang] = [unicodedata.normalize("NFC", t) for t in texts]
        return out
    raise ValueError(f"a range needs a label (a string or a language map), not {value!r}")


def parse_structure(document: Any) -> Structure:
    """``structure.json``: ``{"items": [path | {"label": …, "items": [...]}, ...]}`` (or the bare list).

    ValueError when it does not have that shape.
    """
    items = document.get("items") if isinstance(document, dict) else document
    if not isinstance(items, list):
        raise ValueError('structure.json must be {"items": [...]} or a list')
    order: list[str] = []

    def read(entries: list, depth: int) -> tuple:
        if depth > 20:
            raise ValueError("ranges nest deeper than 20 levels")
        out: list = []
        for entry in entries:
            if isinstance(entry, str):
                path = _structure_path(entry)
                if path not in order:
                    order.append(path)
                out.append(path)
            elif isinstance(entry, dict) and isinstance(entry.get("items"), list):
                out.append(RangeSpec(_label(entry.get("label")), read(entry["items"], depth + 1)))
            else:
                raise ValueError(f"an item must be a file path or a range object, not {entry!r}")
        return tuple(out)

    top = read(items, 0)
    return Structure(tuple(order), tuple(r for r in top if isinstance(r, RangeSpec)))


def apply_structure(pages: list[PageImage], structure: Structure | None) -> list[PageImage]:
    """``pages`` in the structure's order, then the pages it does not list (natural order)."""
    if structure is None:
        return pages
    by_path = {p.logical_path: p for p in pages}
    listed = [by_path[path] for path in structure.order if path in by_path]
    seen = {p.logical_path for p in listed}
    return listed + [p for p in pages if p.logical_path not in seen]


# --- the manifest ------------------------------------------------------------------------

@dataclass(frozen=True)
class ManifestSource:
    """What a manifest is made of, read from the catalogue (and the structure file from storage)."""

    aip_identifier: str
    version: int
    record: dict
    pages: list[PageImage]
    structure: Structure | None
    modified: datetime
    # Added by the door from the text room: canvas name → URL of its AnnotationPage of text,
    # and the manifest's services (IIIF Content Search), when the pages have text.
    annotation_pages: dict[str, str] = field(default_factory=dict)
    services: tuple[dict, ...] = ()
    right_to_left: bool = False  # book view opens from the right (reads_right_to_left)


def load_manifest_source(session: Session, aip: Aip, settings: Settings) -> ManifestSource | None:
    """The AIP's current pages, description and structure; None when it has no page images."""
    files = list(session.scalars(select(AipFile).where(
        AipFile.aip_id == aip.id, AipFile.version == aip.current_version)))
    pages = page_images(files, aip.identifier)
    if not pages:
        return None
    structure = None
    tag = next((f for f in files if f.logical_path == STRUCTURE_FILE), None)
    if tag is not None:
        structure = read_structure(settings, aip, tag)
    record = aip.dublin_core.record if aip.dublin_core else {}
    modified = aip.versions[-1].created_at if aip.versions else aip.updated_at
    return ManifestSource(aip.identifier, aip.current_version, record or {},
                          apply_structure(pages, structure), structure, _aware(modified),
                          right_to_left=reads_right_to_left(record or {}, aip.collection.name,
                                                            settings))


def read_structure(settings: Settings, aip: Aip, tag: AipFile) -> Structure | None:
    """The bag's structure file, or None (logged) when it is too large or malformed: the pages
    are then shown in natural order rather than not at all."""
    if tag.size > STRUCTURE_MAX_BYTES:
        log.warning("%s: %s is larger than %d bytes; ignored", aip.identifier, STRUCTURE_FILE,
                    STRUCTURE_MAX_BYTES)
        return None
    storage = get_location(settings, aip.location)
    data = b"".join(storage.iter_chunks(f"{aip.object_root}/{tag.content_path}"))
    try:
        return parse_structure(json.loads(data.decode("utf-8")))
    except (ValueError, UnicodeDecodeError) as exc:
        log.warning("%s: %s is not usable (%s); natural order used", aip.identifier,
                    STRUCTURE_FILE, exc)
        return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class Urls:
    """Absolute URLs of Kho's IIIF resources under one base (settings.base_url or the request's)."""

    base: str

    def manifest(self, aip: str) -> str:
        return f"{self.base}/iiif/3/{quote(aip, safe='')}/manifest"

    def item(self, aip: str, kind: str, name: str) -> str:
        return f"{self.base}/iiif/3/{quote(aip, safe='')}/{kind}/{name}"

    def image(self, image: str) -> str:
        return f"{self.base}/iiif/3/image/{quote(image, safe='~')}"

    def dc_xml(self, aip: str) -> str:
        return f"{self.base}/iiif/3/{quote(aip, safe='')}/dc.xml"

    def viewer(self, aip: str) -> str:
        return f"{self.base}/view/{quote(aip, safe='')}"

    def collection(self, name: str | None = None, page: int | None = None) -> str:
        url = f"{self.base}/iiif/3/collection"
        if name is not None:
            url += "/" + quote(name, safe="")
        return url if page is None else f"{url}?page={page}"


def plain_text(text: str) -> str:
    """Deposited text as IIIF plain text: viewers (Mirador) render some properties as HTML,
    so ``<``, ``>`` and ``&`` are escaped and a depositor's markup shows as typed, never runs."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain_text_map(values: dict[str, list[str]]) -> dict[str, list[str]]:
    """A language map of deposited text, each string made :func:`plain_text`."""
    return {lang: [plain_text(v) for v in texts] for lang, texts in values.items()}


def title_map(record: dict, fallback: str) -> dict[str, list[str]]:
    """The label of a manifest: the Vietnamese title under "vi" (metadata keeps every title),
    as plain text (no markup reaches a viewer)."""
    return plain_text_map(title_label(record) or {"none": [fallback]})


def rights_uri(record: dict) -> str | None:
    """The record's first Creative Commons or RightsStatements.org URI, in the http form."""
    for item in record.get("rights", []):
        value = item.get("value", "").strip() if isinstance(item, dict) else ""
        if _RIGHTS_URI.match(value):
            return "http://" + value.split("://", 1)[1]
    return None


def _is_text(record: dict) -> bool:
    return any(isinstance(v, dict) and str(v.get("value", "")).strip().lower() in _TEXT_TYPES
               for v in record.get("type", []))


def _image_service(urls: Urls, page: PageImage) -> list[prezi.ServiceV3]:
    return [prezi.ServiceV3(id=urls.image(page.image_id), type="ImageService3",
                            profile=IMAGE_PROFILE)]


def _thumbnail(urls: Urls, page: PageImage) -> prezi.AnnotationBody:
    scale = min(1.0, THUMBNAIL_SIZE / max(page.width, page.height))
    size = f"!{THUMBNAIL_SIZE},{THUMBNAIL_SIZE}" if scale < 1 else "max"
    return prezi.AnnotationBody(
        id=f"{urls.image(page.image_id)}/full/{size}/0/default.jpg", type="Image",
        format="image/jpeg", width=max(1, round(page.width * scale)),
        height=max(1, round(page.height * scale)), service=_image_service(urls, page))


def _canvas(urls: Urls, aip: str, page: PageImage, number: int) -> prezi.Canvas:
    # Canvas ids carry the image's digest prefix, so they survive pages added before them.
    name = page.image_id.rsplit("~", 1)[1]
    canvas_id = urls.item(aip, "canvas", name)
    body = prezi.AnnotationBody(
        id=f"{urls.image(page.image_id)}/full/max/0/default.jpg", type="Image",
        format="image/jpeg", width=page.width, height=page.height,
        service=_image_service(urls, page))
    annotation = prezi.Annotation(id=urls.item(aip, "annotation", name), motivation="painting",
                                  body=body, target=canvas_id)
    return prezi.Canvas(
        id=canvas_id, label={"vi": [f"Trang {number}"], "en": [f"Page {number}"]},
        width=page.width, height=page.height,
        items=[prezi.AnnotationPage(id=urls.item(aip, "page", name), items=[annotation])])


def _ranges(urls: Urls, aip: str, specs: tuple[RangeSpec, ...],
            canvas_ids: dict[str, str]) -> list[prezi.Range]:
    counter = iter(range(1, 1_000_000))

    def build(spec: RangeSpec) -> prezi.Range | None:
        items: list = []
        for item in spec.items:
            if isinstance(item, RangeSpec):
                child = build(item)
                if child is not None:
                    items.append(child)
            elif item in canvas_ids:
                items.append(prezi.CanvasRef(id=canvas_ids[item], type="Canvas"))
        if not items:  # a group whose files are not page images shows nothing: leave it out
            return None
        return prezi.Range(id=urls.item(aip, "range", f"r{next(counter)}"), 
                           label=plain_text_map(spec.label),
                           items=items)

    return [r for r in (build(spec) for spec in specs) if r is not None]


def _provider(urls: Urls, institution: str) -> list[prezi.Provider]:
    return [prezi.Provider(
        id=f"{urls.base}/", type="Agent", label={"vi": [institution]},
        homepage=[prezi.Homepage(id=f"{urls.base}/", type="Text", format="text/html",
                                 label={"vi": [institution]})])]


def build_manifest(source: ManifestSource, urls: Urls, institution: str) -> dict:
    """The Presentation 3.0 manifest of ``source`` as a JSON-LD dict."""
    aip, record = source.aip_identifier, source.record
    label = title_map(record, aip)
    canvases = [_canvas(urls, aip, page, n) for n, page in enumerate(source.pages, 1)]
    canvas_ids = {p.logical_path: c.id for p, c in zip(source.pages, canvases)}
    metadata = [prezi.KeyValueString(label={"vi": [vi], "en": [en]},
                                     value=plain_text_map(language_map(record[element])))
                for element, (vi, en) in DC_LABELS.items()
                if language_map(record.get(element, []))]
    fields: dict[str, Any] = dict(
        id=urls.manifest(aip), label=label, metadata=metadata or None,
        requiredStatement=prezi.KeyValueString(
            label={"vi": ["Ghi nguồn"], "en": ["Attribution"]},
            value={"vi": [f"Tài liệu do {institution} lưu giữ"],
                   "en": [f"Held by {institution}"]}),
        provider=_provider(urls, institution),
        thumbnail=[_thumbnail(urls, source.pages[0])],
        homepage=[prezi.Homepage(id=urls.viewer(aip), type="Text", format="text/html", label=label)],
        seeAlso=[{"id": urls.dc_xml(aip), "type": "Dataset", "format": "application/xml",
                  "profile": OAI_DC_PROFILE, "label": {"en": ["Dublin Core (oai_dc)"]}}],
        items=canvases)
    summary = plain_text_map(language_map(record.get("description", [])))
    if summary:
        fields["summary"] = summary
    rights = rights_uri(record)
    if rights:
        fields["rights"] = rights
    if _is_text(record):
        fields["behavior"] = ["paged"]  # §3.3.2.1: a book, shown as facing pages
    if source.right_to_left:
        fields["viewingDirection"] = "right-to-left"  # §3.4.2.1: Hán-Nôm books open from the right
    if source.structure and source.structure.ranges:
        ranges = _ranges(urls, aip, source.structure.ranges, canvas_ids)
        if ranges:
            fields["structures"] = ranges
    document = jsonld(prezi.Manifest(**{k: v for k, v in fields.items() if v is not None}))
    if source.services:
        document["service"] = list(source.services)
    for canvas in document["items"] if source.annotation_pages else ():
        url = source.annotation_pages.get(canvas["id"].rsplit("/", 1)[1])
        if url:  # Presentation 3.0 §3.4: annotations that are not painting, by reference
            canvas["annotations"] = [{"id": url, "type": "AnnotationPage"}]
    return document


# Written vertically, read from the right: Hán-Nôm (vi-Hani), classical and traditional Chinese.
RIGHT_TO_LEFT_LANGUAGES = ("vi-hani", "zh-hant", "lzh", "lzh-hant", "vi-hant", "nom")


def reads_right_to_left(record: dict, collection: str = "",
                        settings: Settings | None = None) -> bool:
    """Whether a book opens from the right: its language says so, or its collection is one
    named in KHO_RIGHT_TO_LEFT_COLLECTIONS (a Hán-Nôm collection whose records give no
    language, or only the Vietnamese of their description)."""
    languages = [v.get("value", "").strip().lower() for v in record.get("language", [])
                 if isinstance(v, dict) and isinstance(v.get("value"), str)]
    if any(lang in RIGHT_TO_LEFT_LANGUAGES for lang in languages):
        return True
    return settings is not None and collection in right_to_left_collections(settings)


def right_to_left_collections(settings: Settings) -> set[str]:
    """The collection names of KHO_RIGHT_TO_LEFT_COLLECTIONS, in NFC as the catalogue keeps
    them (a name typed on a Mac arrives decomposed)."""
    names = (unicodedata.normalize("NFC", n).strip()
             for n in settings.right_to_left_collections.split(";"))
    return {n for n in names if n}


def jsonld(resource) -> dict:
    """A prezi3 resource as a plain JSON-LD dict (URLs as strings, unset fields left out)."""
    return {"@context": CONTEXT,
            **resource.model_dump(exclude_none=True, by_alias=True, mode="json")}


# --- the manifest cache --------------------------------------------------------------------

@dataclass(frozen=True)
class ServedDocument:
    """A serialised IIIF document with its validators (RFC 9110 §8.8)."""

    body: bytes
    etag: str
    modified: datetime


def serialise(document: dict, modified: datetime) -> ServedDocument:
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return ServedDocument(body, hashlib.sha256(body).hexdigest()[:32], modified)


class ManifestCache:
    """An in-process LRU of served manifests keyed by (AIP, version, base URL).

    A new version has a new key, and storing it drops the AIP's older ones at once.
    """

    def __init__(self, max_entries: int = 256):
        self.max_entries = max_entries
        self._items: OrderedDict[tuple[str, int, str], ServedDocument] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int, str]) -> ServedDocument | None:
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def put(self, key: tuple[str, int, str], item: ServedDocument) -> None:
        with self._lock:
            for old in [k for k in self._items if k[0] == key[0] and k[1] != key[1]]:
                del self._items[old]
            self._items[key] = item
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


# --- collections ---------------------------------------------------------------------------

def _has_page_images():
    return exists().where(AipFile.aip_id == Aip.id, AipFile.version == Aip.current_version,
                          AipFile.role == "payload", AipFile.mime_type.like("image/%"),
                          AipFile.width.is_not(None))


def collection_label(collection: Collection) -> dict[str, list[str]]:
    return plain_text_map({"none": [collection.title or collection.name]})


def build_top_collection(collections: list[Collection], urls: Urls, institution: str) -> dict:
    """Every collection the caller may see, as references."""
    items = [prezi.CollectionRef(id=urls.collection(c.name), type="Collection",
                                 label=collection_label(c)) for c in collections]
    collection = prezi.Collection(
        id=urls.collection(), label={"vi": [f"Các sưu tập của {institution}"],
                                     "en": [f"Collections of {institution}"]},
        provider=_provider(urls, institution), items=items)
    return jsonld(collection)


def build_collection(session: Session, collection: Collection, urls: Urls, institution: str, *,
                     user, today: date, public_read: bool, page: int | None,
                     page_size: int = COLLECTION_PAGE_SIZE) -> dict:
    """A collection of the manifests the caller may read; above ``page_size`` manifests, a
    collection of pages (``?page=N``), each a collection of at most ``page_size`` manifests."""
    reader = Reader.of(user, today=today, public_read=public_read)
    condition = and_(Aip.collection_id == collection.id, readable_aips(reader), _has_page_images())
    total = session.scalar(select(func.count()).select_from(Aip).where(condition)) or 0
    pages = max(1, -(-total // page_size))
    label = collection_label(collection)
    common = dict(provider=_provider(urls, institution))
    if page is None and total > page_size:
        items = [prezi.CollectionRef(
            id=urls.collection(collection.name, n), type="Collection",
            label={"vi": [f"{label['none'][0]} – trang {n}/{pages}"],
                   "en": [f"{label['none'][0]} – page {n} of {pages}"]})
            for n in range(1, pages + 1)]
        return jsonld(prezi.Collection(id=urls.collection(collection.name), label=label,
                                       items=items, **common))
    number = page or 1
    if number > pages:
        raise NotFound(f"collection {collection.name!r} has {pages} page(s), not {number}")
    rows = session.execute(
        select(Aip.identifier, DublinCoreRecord.record)
        .outerjoin(DublinCoreRecord, DublinCoreRecord.aip_id == Aip.id)
        .where(condition).order_by(Aip.created_at, Aip.id)
        .limit(page_size).offset((number - 1) * page_size)).all()
    items = [prezi.ManifestRef(id=urls.manifest(identifier), type="Manifest",
                               label=title_map(record or {}, identifier))
             for identifier, record in rows]
    if page is None:
        return jsonld(prezi.Collection(id=urls.collection(collection.name), label=label,
                                       items=items, **common))
    return jsonld(prezi.Collection(
        id=urls.collection(collection.name, number),
        label={"vi": [f"{label['none'][0]} – trang {number}/{pages}"],
               "en": [f"{label['none'][0]} – page {number} of {pages}"]},
        partOf=[{"id": urls.collection(collection.name), "type": "Collection", "label": label}],
        items=items, **common))


def primary_label(record: dict, fallback: str) -> str:
    """A one-line title for pages (the viewer's heading)."""
    return primary_title(record or {}) or fallback
