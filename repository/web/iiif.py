"""IIIF Presentation 3.0 over HTTP: manifests, collections and the Dublin Core they point to.

    GET   /iiif/3/<aip-id>/manifest        one canvas per page image (cached, ETag, 304)
    GET   /iiif/3/<aip-id>/dc.xml          the description as oai_dc (the manifest's seeAlso)
    GET   /iiif/3/collection               every collection the caller may see
    GET   /iiif/3/collection/<name>[?page=N]
    PATCH /api/v1/collections/<name>       {"access": "..."} (archivists; the access room's addition)

``init_app`` also wires the real image resolver (AIP files, the caller's read access) for
the Image API blueprint, and marks every answer given to a signed-in user ``private``.
"""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timezone
from types import SimpleNamespace
from urllib.parse import quote

from flask import Blueprint, Flask, Response, current_app, g, request

from repository.access.image_resolver import ImageResolver
from repository.access.presentation import (MEDIA_TYPE, ManifestCache, Urls, build_collection,
                                            build_manifest, build_top_collection,
                                            load_manifest_source, serialise)
from repository.access.rights import PUBLIC, AccessPolicy, effective_policy
from repository.catalog import get_aip, get_collection, list_collections
from repository.errors import NotFound, PermissionDenied, UsageError
from repository.metadata import record_to_oai_dc
from repository.text.iiif import with_text
from repository.text.pages import text_stamp
from repository.web.auth import check_reader, current_reader, current_user, require_roles

blueprint = Blueprint("iiif", __name__)

MANIFEST_CACHE = "kho.manifest_cache"
RESOLVER = "kho.image_resolver"
# Revalidate every time (cheap: 304 on the ETag), so a new version or an access change shows at once.
PUBLIC_CACHE = "public, no-cache"
PRIVATE_CACHE = "private, no-cache"


def init_app(app: Flask) -> None:
    services = app.extensions["kho"]
    app.extensions.setdefault(MANIFEST_CACHE, ManifestCache())
    resolver = ImageResolver(services.settings, services.catalog)
    # The Image API asks with the image id only; the caller is this request's user.
    app.extensions[RESOLVER] = lambda image_id: resolver.resolve(image_id, current_user())

    @app.after_request
    def private_when_signed_in(response: Response) -> Response:
        # An answer given to a signed-in user may hold what others must not see (restricted
        # files, filtered listings): shared caches must not keep it (RFC 9111 §5.2.2.7).
        if g.get("kho_user") is not None and not response.cache_control.public:
            response.cache_control.private = True
        return response


def _services():
    return current_app.extensions["kho"]


def _urls() -> Urls:
    settings = _services().settings
    return Urls(settings.base_url.rstrip("/") if settings.base_url else request.url_root.rstrip("/"))


def _today() -> date:
    return date.today()


def _readable(aip) -> bool:
    """Raise 401/403 unless the caller may read ``aip``; True when it is public."""
    check_reader(aip)
    return effective_policy(aip, _today()) == PUBLIC and _services().settings.public_read


def _served(body: bytes, etag: str, modified: datetime | None, *, public: bool,
            content_type: str = MEDIA_TYPE) -> Response:
    response = Response(status=200, content_type=content_type)
    response.set_etag(etag)
    if modified is not None:
        response.last_modified = modified
    response.headers["Cache-Control"] = PUBLIC_CACHE if public else PRIVATE_CACHE
    response.vary.update(("Authorization", "Cookie"))
    # RFC 9110 §13.1.2: If-None-Match wins; If-Modified-Since only when it is absent.
    if request.if_none_match:
        fresh = request.if_none_match.contains_weak(etag)
    else:
        fresh = bool(modified and request.if_modified_since
                     and modified.replace(microsecond=0) <= request.if_modified_since)
    if fresh:
        response.status_code = 304
    else:
        response.set_data(body)
    return response


@blueprint.get("/iiif/3/<aip_id>/manifest")
def manifest(aip_id: str):
    settings = _services().settings
    cache: ManifestCache = current_app.extensions[MANIFEST_CACHE]
    urls = _urls()
    with _services().catalog.session() as session:
        aip = get_aip(session, aip_id)
        public = _readable(aip)
        # OCR finishing after ingest changes the manifest without a new version.
        key = (aip.identifier, f"{aip.current_version}:{text_stamp(session, aip)}", urls.base)
        served = cache.get(key)
        if served is None:
            source = load_manifest_source(session, aip, settings)
            if source is None:
                raise NotFound(f"AIP {aip_id} has no page images")
            source = with_text(session, aip, source, urls.base)
            served = serialise(build_manifest(source, urls, settings.holding_institution),
                               source.modified)
            cache.put(key, served)
    return _served(served.body, served.etag, served.modified, public=public)


@blueprint.get("/iiif/3/<aip_id>/dc.xml")
def dublin_core(aip_id: str):
    with _services().catalog.session() as session:
        aip = get_aip(session, aip_id)
        public = _readable(aip)
        record = aip.dublin_core.record if aip.dublin_core else {}
        modified = aip.dublin_core.updated_at if aip.dublin_core else aip.updated_at
    body = record_to_oai_dc(record or {})
    return _served(body, hashlib.sha256(body).hexdigest()[:32], _aware(modified), public=public,
                   content_type="application/xml; charset=utf-8")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _collection_as_item(collection):
    """The collection's own access, checked with the AIP rules (rights.py) on a stand-in."""
    return SimpleNamespace(identifier=f"collection {collection.name}", access=PUBLIC,
                           embargo_until=None, collection=collection)


@blueprint.get("/iiif/3/collection")
def top_collection():
    settings = _services().settings
    with _services().catalog.session() as session:
        # A collection the caller may not read is left out, as its manifests are: the
        # listing never reveals what a restricted or embargoed collection holds.
        visible = list_collections(session, current_reader())
        document = build_top_collection(visible, _urls(), settings.holding_institution)
    return _document(document)


@blueprint.get("/iiif/3/collection/<path:name>")
def collection(name: str):
    settings = _services().settings
    page = request.args.get("page")
    if page is not None and (not page.isdigit() or int(page) < 1):
        raise UsageError("page must be a whole number from 1")
    with _services().catalog.session() as session:
        found = get_collection(session, name)
        _readable(_collection_as_item(found))
        document = build_collection(session, found, _urls(), settings.holding_institution,
                                    user=current_user(), today=_today(),
                                    public_read=settings.public_read,
                                    page=int(page) if page else None,
                                    page_size=settings.iiif_collection_page_size)
    return _document(document)


def _document(document: dict) -> Response:
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    # What a listing shows depends on who asks: public only when nobody is signed in.
    return _served(body, hashlib.sha256(body).hexdigest()[:32], None,
                   public=current_user() is None)


@blueprint.patch("/api/v1/collections/<path:name>")
@require_roles("archivist")
def change_collection(name: str):
    """Change who may read a whole collection ({"access": "restricted"}); recorded as an event."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not {"access", "title", "description"} & set(body):
        raise UsageError('send a JSON body such as {"access": "restricted"} or, as an admin, '
                         '{"title": "…"}')
    if {"title", "description"} & set(body):
        _rename_collection(name, body)
        if "access" not in body:
            with _services().catalog.session() as session:
                found = get_collection(session, name)
                return {"name": found.name, "title": found.title, "access": found.access,
                        "links": {"iiif": f"/iiif/3/collection/{quote(found.name, safe='')}"}}
    from repository.catalog.collections import change_collection_access
    with _services().catalog.session() as session:
        found = change_collection_access(session, name, str(body["access"]),
                                         agent=current_user().name)
        policy = AccessPolicy(found.access, found.embargo_until)
        return {"name": found.name, "title": found.title, "access": str(policy),
                "links": {"iiif": f"/iiif/3/collection/{quote(found.name, safe='')}"}}


def _rename_collection(name: str, body: dict) -> None:
    """A collection's title and description are changed by admins only (its name stays)."""
    from repository.catalog.collections import rename_collection
    if current_user().role != "admin":
        raise PermissionDenied("only an admin may change a collection's title or description")
    changes = {key: body[key] for key in ("title", "description") if key in body}
    if not all(isinstance(v, str) for v in changes.values()):
        raise UsageError('"title" and "description" must be strings')
    with _services().catalog.session() as session:
        rename_collection(session, name, **changes)


@blueprint.after_request
def allow_any_origin(response: Response) -> Response:
    # Presentation 3.0 §6 / Image 3.0 §7.2: viewers on other sites must be able to read answers.
    if request.path.startswith("/iiif/"):
        response.headers["Access-Control-Allow-Origin"] = "*"
        if response.status_code in (401, 403):
            response.headers["Cache-Control"] = "private, no-store"
    return response
