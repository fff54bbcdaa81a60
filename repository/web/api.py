"""HTTP API v1 (read side, and metadata/access changes): collections, AIPs, files, PREMIS."""
from __future__ import annotations

from importlib import resources
from urllib.parse import quote, urlencode

from flask import Blueprint, Response, current_app, request, stream_with_context
from sqlalchemy import select

from repository.catalog import (AipFile, count_readable_aips, events_for_aip, get_aip,
                                get_collection, list_aips, list_collections, premis_xml,
                                search_aips)
from repository.catalog.visibility import agent_labeller
from repository.errors import NotFound, UsageError
from repository.ingest.amend import amend_aip, withdraw_aip
from repository.catalog.copies import aip_copy_status
from repository.storage import get_location
from repository.web.auth import check_reader, current_reader, current_user, require_roles
from repository.web.inputs import json_object, text, whole_number
from repository.web.security import deposited_file_headers

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")


def services():
    return current_app.extensions["kho"]


def readable_aip(session, identifier: str):
    """The AIP, if the caller may read it (401/403/404 otherwise)."""
    aip = get_aip(session, identifier)
    check_reader(aip)
    return aip


def aip_summary(aip) -> dict:
    dc = aip.dublin_core
    return {"identifier": aip.identifier, "title": dc.title if dc else "",
            "collection": aip.collection.name, "access": _access_text(aip),
            "version": aip.current_version, "files": aip.file_count, "bytes": aip.total_size,
            "created": aip.created_at.isoformat(), "updated": aip.updated_at.isoformat(),
            "links": {"self": f"/api/v1/aips/{quote(aip.identifier, safe='')}",
                      "manifest": f"/iiif/3/{quote(aip.identifier, safe='')}/manifest",
                      "viewer": f"/view/{quote(aip.identifier, safe='')}"}}


def _access_text(aip) -> str:
    return f"embargoed:{aip.embargo_until.isoformat()}" if aip.access == "embargoed" \
        and aip.embargo_until else aip.access


def collection_links(name: str) -> dict:
    """Links to a collection, its name percent-encoded (RFC 3986) so every link is a valid URL."""
    return {"self": f"/api/v1/collections/{quote(name, safe='')}",
            "aips": f"/api/v1/aips?{urlencode({'collection': name}, quote_via=quote)}",
            "iiif": f"/iiif/3/collection/{quote(name, safe='')}"}


def collection_summary(c, held: int) -> dict:
    return {"name": c.name, "title": c.title, "description": c.description,
            "access": c.access, "aips": held, "links": collection_links(c.name)}


@blueprint.get("/collections")
def collections():
    reader = current_reader()
    with services().catalog.session() as session:
        counts = count_readable_aips(session, reader)
        return {"collections": [collection_summary(c, counts.get(c.id, 0))
                                for c in list_collections(session, reader)]}


@blueprint.get("/collections/<path:name>")
def collection_detail(name: str):
    """One collection, to whoever may read it (its own access decides, as for its AIPs)."""
    from types import SimpleNamespace
    with services().catalog.session() as session:
        found = get_collection(session, name)
        check_reader(SimpleNamespace(identifier=f"collection {found.name}", access="public",
                                     embargo_until=None, collection=found))
        held = count_readable_aips(session, current_reader()).get(found.id, 0)
        return collection_summary(found, held)


@blueprint.post("/collections")
@require_roles("admin")
def add_collection():
    """Create a collection (admins): {"name": …, "title"?, "description"?, "access"?}."""
    from repository.catalog.collections import add_collection as add
    body = json_object()
    fields = {key: body.get(key) for key in ("title", "description", "access")
              if body.get(key) is not None}
    for key, value in {"name": body.get("name"), **fields}.items():
        if not isinstance(value, str):
            raise UsageError(f'"{key}" must be a string')
    with services().catalog.session() as session:
        made = add(session, body["name"], **fields)
        summary = collection_summary(made, 0)
    return summary, 201, {"Location": summary["links"]["self"]}


@blueprint.delete("/collections/<path:name>")
@require_roles("admin")
def delete_collection(name: str):
    """Delete an empty collection (admins); one holding AIPs is refused (409)."""
    from repository.catalog.collections import delete_collection as delete
    with services().catalog.session() as session:
        delete(session, name)
    return "", 204


@blueprint.get("/aips")
def aips():
    page, per_page = whole_number("page", 1), whole_number("per_page", 50)
    query = request.args.get("q", "").strip()
    reader = current_reader()
    with services().catalog.session() as session:
        if query:
            result = search_aips(session, reader, query, page=page, per_page=per_page)
        else:
            result = list_aips(session, reader, collection=request.args.get("collection"),
                               page=page, per_page=per_page)
        items = [aip_summary(aip) for aip in result.items]
        return {"aips": items, "page": page, "per_page": per_page, "total": result.total}


@blueprint.get("/aips/<identifier>")
def aip_detail(identifier: str):
    with services().catalog.session() as session:
        aip = readable_aip(session, identifier)
        agent = agent_labeller(session, current_reader())  # staff names only to staff
        files = session.scalars(select(AipFile).where(
            AipFile.aip_id == aip.id, AipFile.version == aip.current_version)
            .order_by(AipFile.logical_path))
        body = aip_summary(aip)
        body.update({
            "external_identifier": aip.external_identifier,
            "location": aip.location,
            # "safe" only when every copy the policy wants is verified at this version.
            "copies": aip_copy_status(services().settings, session, aip).as_dict(),
            "ocfl_id": aip.ocfl_id,
            "dublin_core": aip.dublin_core.record if aip.dublin_core else {},
            "versions": [{"number": v.number, "created": v.created_at.isoformat(),
                          "message": v.message, "agent": agent(v.agent)} for v in aip.versions],
            "files": [{"path": f.logical_path, "size": f.size, "sha512": f.sha512,
                       "digests": f.digests, "pronom_id": f.pronom_id,
                       "format": f.format_name, "mime_type": f.mime_type,
                       "width": f.width, "height": f.height, "role": f.role,
                       "url": f"/api/v1/aips/{quote(aip.identifier, safe='')}/files/"
                              f"{quote(f.logical_path, safe='/')}"}
                      for f in files],
            "events": [{"identifier": e.identifier, "type": e.event_type,
                        "datetime": e.event_datetime.isoformat(), "agent": agent(e.agent),
                        "outcome": e.outcome, "detail": e.detail, "file": e.file_path}
                       for e in events_for_aip(session, aip.identifier)],
        })
        return body


@blueprint.patch("/aips/<identifier>")
@require_roles("archivist")
def change_aip(identifier: str):
    """Change who may read an AIP ({"access": "restricted"}): a new version and an event."""
    _require_aip(identifier)
    body = json_object()
    if "access" not in body:
        raise UsageError('send a JSON body such as {"access": "restricted"}')
    amend_aip(services().settings, services().catalog, identifier,
              agent=current_user().name, access=text(body["access"], "access", required=True))
    with services().catalog.session() as session:
        return aip_summary(get_aip(session, identifier))


@blueprint.put("/aips/<identifier>/dublin-core")
@require_roles("archivist")
def replace_dublin_core(identifier: str):
    """Replace the AIP's Dublin Core record (validated first): a new version and an event."""
    _require_aip(identifier)
    record = json_object()
    amend_aip(services().settings, services().catalog, identifier,
              agent=current_user().name, dublin_core=record)
    with services().catalog.session() as session:
        aip = get_aip(session, identifier)
        return {**aip_summary(aip), "dublin_core": aip.dublin_core.record}


@blueprint.post("/aips/<identifier>/withdrawal")
@require_roles("admin")
def withdraw(identifier: str):
    """Withdraw an AIP ({"reason": "…"}): kept in storage, gone from listings, 410 after."""
    reason = json_object().get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise UsageError('send a JSON body such as {"reason": "duplicate of another AIP"}')
    version = withdraw_aip(services().settings, services().catalog, identifier,
                           agent=current_user().name, reason=reason)
    with services().catalog.session() as session:
        aip = get_aip(session, identifier)
        return {"identifier": aip.identifier, "withdrawn": True, "version": version,
                "withdrawn_at": aip.withdrawn_at.isoformat(),
                "reason": aip.withdrawal_reason}


def _require_aip(identifier: str) -> None:
    """404 for an unknown AIP before the body is read, so the answer names the real problem."""
    with services().catalog.session() as session:
        get_aip(session, identifier)


@blueprint.get("/aips/<identifier>/premis.xml")
def aip_premis(identifier: str):
    with services().catalog.session() as session:
        aip = readable_aip(session, identifier)
        return Response(premis_xml(session, aip, agent_labeller(session, current_reader())),
                        mimetype="application/xml")


@blueprint.get("/aips/<identifier>/export")
def aip_export(identifier: str):
    """The AIP (``?version=N``, default the newest) as a BagIt bag in a zip, streamed from
    storage as it is sent, to whoever may read the AIP (the same decision as its files)."""
    from repository.access.export import plan_export, zip_stream
    version = whole_number("version", 0) if "version" in request.args else None
    with services().catalog.session() as session:
        readable_aip(session, identifier)
        bag = plan_export(services().settings, session, identifier, version,
                          agent_label=agent_labeller(session, current_reader()))
    archive = zip_stream(bag)
    response = Response(archive, mimetype="application/zip")
    response.content_length = len(archive)
    response.headers["Content-Disposition"] = attachment(f"{bag.bag_name}.zip")
    return response


def attachment(filename: str) -> str:
    """Content-Disposition for a download named ``filename`` (RFC 6266): an ASCII fallback
    for old clients and the exact UTF-8 name as filename* (RFC 5987)."""
    import unicodedata
    fallback = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    fallback = "".join(c if c.isalnum() or c in "-_." else "_" for c in fallback) or "export.zip"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@blueprint.get("/aips/<identifier>/files/<path:logical_path>")
def aip_file(identifier: str, logical_path: str):
    """The file's bytes, streamed from storage, with Range and ETag (sha512)."""
    settings = services().settings
    with services().catalog.session() as session:
        aip = readable_aip(session, identifier)
        item = session.scalar(select(AipFile).where(
            AipFile.aip_id == aip.id, AipFile.version == aip.current_version,
            AipFile.logical_path == _nfc(logical_path)))
        if item is None:
            raise NotFound(f"AIP {identifier} has no file {logical_path!r}")
        key = f"{aip.object_root}/{item.content_path}"
        location, size, etag = aip.location, item.size, item.sha512[:32]
        mime = item.mime_type or "application/octet-stream"
        modified = aip.updated_at
    storage = get_location(settings, location)
    response = Response(mimetype=mime)
    response.set_etag(etag)
    response.last_modified = modified
    response.headers["Accept-Ranges"] = "bytes"
    deposited_file_headers(response, logical_path, mime)  # data, never code in Kho's origin
    if request.if_none_match.contains(etag):
        response.status_code = 304
        return response
    byte_range = request.range if request.if_range.etag in (None, etag) or \
        not request.if_range else None
    if byte_range and byte_range.units == "bytes" and len(byte_range.ranges) == 1:
        span = byte_range.range_for_length(size)
        if span is None:
            response.status_code = 416
            response.headers["Content-Range"] = f"bytes */{size}"
            return response
        start, stop = span
        response.status_code = 206
        response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{size}"
        response.content_length = stop - start
        response.response = stream_with_context(
            storage.iter_chunks(key, start=start, end=stop - 1)) if stop > start else []
        return response
    response.content_length = size
    response.response = storage.iter_chunks(key)
    return response


def _nfc(text: str) -> str:
    import unicodedata
    return unicodedata.normalize("NFC", text)


@blueprint.get("/openapi.json")
def openapi():
    """The API description, with this server's storage locations as the allowed ``location``."""
    import json
    from repository.storage import load_locations
    text_ = resources.files("repository.web").joinpath("openapi.json").read_text("utf-8")
    document = json.loads(text_)
    names = sorted(load_locations(services().settings))
    deposit = document["paths"]["/api/v1/deposits"]["post"]
    for parameter in deposit["parameters"]:
        if parameter["name"] == "location":
            parameter["schema"]["enum"] = names
    deposit["requestBody"]["content"]["application/json"]["schema"]["properties"]["location"][
        "enum"] = names
    return Response(json.dumps(document, ensure_ascii=False), mimetype="application/json")
