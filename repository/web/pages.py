"""The researchers' pages: home, search results with facets, one record (description, pages,
viewer, files, citations), and whole-item downloads."""
from __future__ import annotations

import unicodedata
from datetime import date
from urllib.parse import quote

from babel import dates as babel_dates
from flask import (Blueprint, Response, current_app, render_template, request,
                   stream_with_context, url_for)
from sqlalchemy import select

from repository.access.image_resolver import image_id
from repository.access.presentation import natural_key
from repository.catalog import (AipFile, count_readable_aips, events_for_aip, get_aip,
                                list_collections)
from repository.catalog.copies import aip_copy_status
from repository.catalog.visibility import agent_labeller
from repository.metadata.citation import bibtex, citations, highwire_tags, ris
from repository.storage import get_location
from repository.web.auth import check_reader, current_reader
from repository.web.finder import FACETS, SORTS, find, first_pages, newest_by_collection
from repository.web.i18n import LANGUAGES, agent_words

blueprint = Blueprint("pages", __name__, template_folder="templates")
PER_PAGE = 20
NEWEST = 8


def _services():
    return current_app.extensions["kho"]


def _page_number() -> int:
    try:
        return max(1, int(request.args.get("page", 1)))
    except ValueError:
        return 1


def base_url() -> str:
    return _services().settings.base_url.rstrip("/") or request.url_root.rstrip("/")


@blueprint.get("/")
def home():
    """Search box, collections (description, count, cover) and the newest additions."""
    with _services().catalog.session() as session:
        found = find(session, sort="newest", per_page=NEWEST)
        reader = current_reader()
        held = count_readable_aips(session, reader)
        collections = [c for c in list_collections(session, reader) if held.get(c.id)]
        counts = {c.name: held[c.id] for c in collections}
        newest = newest_by_collection(session, (c.id for c in collections))
        thumbs = first_pages(session, list(found.items) + list(newest.values()))
        covers = {c.name: thumbs.get(newest[c.id].id) if c.id in newest else None
                  for c in collections}
        return render_template("pages/home.html", newest=found.items, thumbs=thumbs,
                               collections=collections, counts=counts, covers=covers)


@blueprint.get("/search")
def search():
    """Results for words and facet choices together; totals count only what the reader sees."""
    text = unicodedata.normalize("NFC", request.args.get("q", "").strip())
    chosen = {name: unicodedata.normalize("NFC", request.args.get(name, "").strip())
              for name in FACETS if request.args.get(name, "").strip()}
    sort = request.args.get("sort", "relevance")
    sort = sort if sort in SORTS else "relevance"
    with _services().catalog.session() as session:
        found = find(session, text=text, chosen=chosen, sort=sort, page=_page_number(),
                     per_page=PER_PAGE)
        thumbs = first_pages(session, found.items)

        def link(**changes) -> str:
            args = {"q": text, "sort": sort if sort != "relevance" else "", **chosen}
            args.update(changes)
            if "page" not in changes:
                args.pop("page", None)
            return url_for("pages.search", **{k: v for k, v in args.items() if v})
        return render_template("pages/search.html", found=found, text=text, chosen=chosen,
                               sort=sort, sorts=SORTS, facets=FACETS, thumbs=thumbs, link=link)


def _payload(session, aip) -> list[AipFile]:
    files = session.scalars(select(AipFile).where(
        AipFile.aip_id == aip.id, AipFile.version == aip.current_version,
        AipFile.role == "payload"))
    return sorted(files, key=lambda f: natural_key(f.logical_path))


def _cite_args(aip) -> dict:
    return dict(url=f"{base_url()}{url_for('pages.aip_page', identifier=aip.identifier)}",
                publisher=_services().settings.holding_institution,
                fallback_title=aip.identifier)


@blueprint.get("/aips/<identifier>")
def aip_page(identifier: str):
    with _services().catalog.session() as session:
        aip = get_aip(session, identifier)
        if aip.withdrawn_at is not None:  # a page that says why, not a bare error
            return render_template("pages/withdrawn.html", aip=aip), 410
        check_reader(aip)
        files = _payload(session, aip)
        pages = [image_id(aip.identifier, f.sha512) for f in files
                 if (f.mime_type or "").startswith("image/") and f.width]
        record = aip.dublin_core.record if aip.dublin_core else {}
        args = _cite_args(aip)
        manifest = f"{base_url()}/iiif/3/{quote(identifier, safe='')}/manifest"
        return render_template(
            "pages/aip.html", aip=aip, files=files, pages=pages, record=record,
            copies=aip_copy_status(_services().settings, session, aip),
            events=events_for_aip(session, aip.identifier), manifest_url=manifest,
            agent=agent_labeller(session, current_reader(), agent_words()),
            share_url=args["url"],
            # Each citation's date in its own language, whatever the page's.
            citations=citations(record, accessed={
                language: babel_dates.format_date(date.today(), "long", locale=language)
                for language in LANGUAGES}, **args),
            meta_tags=highwire_tags(record, **args))


def _download(body: str, mimetype: str, filename: str) -> Response:
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": f"attachment; filename={filename}"})


def _citation_file(identifier: str, render, mimetype: str, suffix: str) -> Response:
    """One AIP's citation as a file (``render``: ris or bibtex), to whoever may read it."""
    with _services().catalog.session() as session:
        aip = get_aip(session, identifier)
        check_reader(aip)
        record = aip.dublin_core.record if aip.dublin_core else {}
        body = render(record, identifier=aip.identifier, **_cite_args(aip))
    return _download(body, mimetype, f"{identifier}.{suffix}")


@blueprint.get("/aips/<identifier>/cite.ris")
def cite_ris(identifier: str):
    return _citation_file(identifier, ris, "application/x-research-info-systems", "ris")


@blueprint.get("/aips/<identifier>/cite.bib")
def cite_bibtex(identifier: str):
    return _citation_file(identifier, bibtex, "application/x-bibtex", "bib")


@blueprint.get("/aips/<identifier>/download.zip")
def download_zip(identifier: str):
    """Every payload file of the current version as one zip, streamed from storage as it is
    sent (zipstream-ng computes sizes up front, so the download shows its length)."""
    from zipstream import ZipStream
    settings = _services().settings
    with _services().catalog.session() as session:
        aip = get_aip(session, identifier)
        check_reader(aip)
        entries = [(f"{aip.object_root}/{f.content_path}", f.logical_path.removeprefix("data/"),
                    f.size) for f in _payload(session, aip)]
        location = aip.location
    storage = get_location(settings, location)
    archive = ZipStream(sized=True)
    for key, name, size in entries:
        archive.add(_Chunks(storage, key), arcname=f"{identifier}/{name}", size=size)
    response = Response(archive, mimetype="application/zip")
    response.content_length = len(archive)
    response.headers["Content-Disposition"] = \
        f"attachment; filename={quote(identifier)}.zip"
    return response


class _Chunks:
    """A storage object's bytes, read only when the zip reaches it."""

    def __init__(self, storage, key: str):
        self.storage, self.key = storage, key

    def __iter__(self):
        return iter(self.storage.iter_chunks(self.key))


PDF_PAGE_PIXELS = 2000  # each page at most this many pixels on its longer side


@blueprint.get("/aips/<identifier>/download.pdf")
def download_pdf(identifier: str):
    """The pages as one PDF, the description first; streamed page by page from the image
    service (one page in memory at a time, whatever the length of the book)."""
    from repository.access.pdf import description_page, stream_pdf
    from repository.metadata.citation import date_text
    from repository.metadata.dublin_core import primary_title
    from repository.web.iiif_image import RESOLVER, SERVICE
    with _services().catalog.session() as session:
        aip = get_aip(session, identifier)
        check_reader(aip)
        record = aip.dublin_core.record if aip.dublin_core else {}
        images = [(image_id(aip.identifier, f.sha512),
                   "max" if max(f.width, f.height) <= PDF_PAGE_PIXELS
                   else f"!{PDF_PAGE_PIXELS},{PDF_PAGE_PIXELS}")
                  for f in _payload(session, aip)
                  if (f.mime_type or "").startswith("image/") and f.width and f.height]
        title = primary_title(record) or aip.identifier
        collection = aip.collection.name
    if not images:
        from repository.errors import NotFound
        raise NotFound(f"AIP {identifier} has no page images to make a PDF of")
    creators = "; ".join(v["value"] for v in record.get("creator", []) if isinstance(v, dict))
    lines = [("Nhan đề / Title", title), ("Tác giả / Creator", creators),
             ("Thời gian / Date", date_text(record)), ("Sưu tập / Collection", collection),
             ("Mã định danh / Identifier", identifier),
             ("Nguồn / Source", f"{base_url()}{url_for('pages.aip_page', identifier=identifier)}"),
             ("Lưu giữ / Held by", _services().settings.holding_institution)]
    lines += [("Mô tả / Description", v["value"]) for v in record.get("description", [])[:2]
              if isinstance(v, dict)]
    resolve, service = current_app.extensions[RESOLVER], current_app.extensions[SERVICE]

    def page(image: str, size: str):
        def render() -> bytes:
            source = resolve(image)
            pyramid, wanted = service.parse(source, "full", size, "0", "default.jpg")
            return service.render(source, pyramid, wanted).body
        return render
    renderers = [lambda: description_page([(k, v) for k, v in lines if v])]
    renderers += [page(image, size) for image, size in images]
    response = Response(stream_with_context(stream_pdf(renderers, title=title, author=creators)),
                        mimetype="application/pdf")
    response.headers["Content-Disposition"] = f"attachment; filename={quote(identifier)}.pdf"
    return response
