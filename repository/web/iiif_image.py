"""IIIF Image API 3.0 (level 2) over HTTP: ``/iiif/3/image/<image-id>/…``.

Thin: it asks the app's image resolver (``app.extensions["kho.image_resolver"]``, a
callable ``image_id -> ImageSource`` raising NotFound / PermissionDenied) for the source,
then hands the request to :class:`repository.access.ImageService`.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import quote

from flask import Blueprint, Flask, Response, current_app, redirect, request

from repository.access import (ImageService, ImageSource, InvalidImageRequest,
                               UnsupportedImageRequest)
from repository.access.image_service import INFO_MEDIA_TYPE, PROFILE_URI
from repository.errors import DigestMismatch, NotFound, UnreadableImage

blueprint = Blueprint("iiif_image", __name__, url_prefix="/iiif/3/image")

RESOLVER = "kho.image_resolver"
SERVICE = "kho.image_service"
# Rendered images never change for a given version, so shared caches may keep them a day.
PUBLIC_CACHE = "public, max-age=86400"
PRIVATE_CACHE = "private, max-age=3600"


def init_app(app: Flask) -> None:
    settings = app.config["KHO_SETTINGS"]
    app.extensions.setdefault(SERVICE, ImageService(settings))
    app.extensions.setdefault(RESOLVER, _no_images)


def _no_images(image_id: str) -> ImageSource:
    raise NotFound(f"no image {image_id!r}")


def _source(image_id: str) -> ImageSource:
    return current_app.extensions[RESOLVER](image_id)


def _service() -> ImageService:
    return current_app.extensions[SERVICE]


def _service_id(image_id: str) -> str:
    settings = current_app.config["KHO_SETTINGS"]
    root = (settings.base_url.rstrip("/") if settings.base_url else request.url_root.rstrip("/"))
    return f"{root}/iiif/3/image/{quote(image_id, safe='')}"


def _last_modified(source: ImageSource, service: ImageService) -> datetime:
    if source.modified is not None:
        modified = source.modified
        return modified if modified.tzinfo else modified.replace(tzinfo=timezone.utc)
    return datetime.fromtimestamp(service.pyramid(source).path.stat().st_mtime, timezone.utc)


def _cacheable(response: Response, source: ImageSource, etag: str, modified: datetime) -> Response:
    response.set_etag(etag)
    response.last_modified = modified
    response.headers["Cache-Control"] = PUBLIC_CACHE if source.public else PRIVATE_CACHE
    return response


def _not_modified(etag: str, modified: datetime) -> bool:
    """RFC 9110 §13.1: If-None-Match wins over If-Modified-Since when both are sent."""
    if request.if_none_match:
        return request.if_none_match.contains_weak(etag)
    since = request.if_modified_since
    return since is not None and modified.replace(microsecond=0) <= since


@blueprint.get("/<image_id>")
def base_uri(image_id: str):
    # §2.2: the base URI redirects to the image information document.
    return redirect(f"{_service_id(image_id)}/info.json", code=303)


@blueprint.get("/<image_id>/info.json")
def info(image_id: str):
    source = _source(image_id)
    service = _service()
    service_id = _service_id(image_id)
    etag = service.etag(source, "info.json " + service_id)
    modified = _last_modified(source, service)
    if _not_modified(etag, modified):
        return _cacheable(Response(status=304), source, etag, modified)
    body = json.dumps(service.info(source, service_id), ensure_ascii=False, indent=1)
    # §5.1: JSON-LD media type with the context as profile; plain JSON only when a client
    # asks for application/json and not for JSON-LD.
    accept = request.accept_mimetypes
    plain = accept["application/json"] > accept["application/ld+json"] and "*/*" not in request.headers.get("Accept", "")
    response = Response(body, content_type="application/json" if plain else INFO_MEDIA_TYPE)
    response.vary.add("Accept")
    response.headers["Link"] = f'<{PROFILE_URI}>;rel="profile"'
    return _cacheable(response, source, etag, modified)


@blueprint.get("/<image_id>/<region>/<size>/<rotation>/<quality_format>")
def image(image_id: str, region: str, size: str, rotation: str, quality_format: str):
    source = _source(image_id)
    service = _service()
    pyramid, image_request = service.parse(source, region, size, rotation, quality_format)
    canonical = image_request.canonical(pyramid.width, pyramid.height)
    etag = service.etag(source, canonical)
    modified = _last_modified(source, service)
    if _not_modified(etag, modified):
        return _cacheable(Response(status=304), source, etag, modified)
    rendered = service.render(source, pyramid, image_request)
    response = Response(rendered.body, content_type=rendered.media_type)
    # §4.7 canonical URI and §6 profile, as Link headers.
    response.headers["Link"] = (f'<{_service_id(image_id)}/{canonical}>;rel="canonical", '
                                f'<{PROFILE_URI}>;rel="profile"')
    return _cacheable(response, source, etag, modified)


@blueprint.after_request
def allow_any_origin(response: Response) -> Response:
    # §7.2 (CORS): viewers on other sites must be able to read every IIIF answer.
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@blueprint.errorhandler(InvalidImageRequest)
def bad_request(exc: InvalidImageRequest):
    return Response(f"400 Bad Request: {exc}\n", status=400, content_type="text/plain; charset=utf-8")


@blueprint.errorhandler(DigestMismatch)
@blueprint.errorhandler(UnreadableImage)
def damaged_original(exc: Exception):
    # Damaged stored bytes are the repository's fault, not the caller's: a 500 that says what
    # is wrong (fixity reports and repairs the file), never a page made from the damage.
    if isinstance(exc, DigestMismatch):
        exc = f"{exc.key} does not match its recorded {exc.algorithm}: the stored bytes are damaged"
    current_app.logger.error("IIIF image: %s", exc)
    return Response(f"500 Internal Server Error: {exc}\n", status=500,
                    content_type="text/plain; charset=utf-8")


@blueprint.errorhandler(UnsupportedImageRequest)
def not_implemented(exc: UnsupportedImageRequest):
    return Response(f"501 Not Implemented: {exc}\n", status=501,
                    content_type="text/plain; charset=utf-8")
