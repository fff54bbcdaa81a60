"""Text of pages over HTTP: IIIF annotations, IIIF Content Search 2.0 and 1.0, the text API,
and the archivist's transcription form (a thin door onto repository/text).

    GET  /iiif/3/<aip>/annotations/<canvas>                 supplementing AnnotationPage
    GET  /iiif/search/2/<aip>?q=&page=   /iiif/search/2/<aip>/autocomplete?q=
    GET  /iiif/search/1/<aip>?q=&page=   /iiif/search/1/<aip>/autocomplete?q=
    GET  /api/v1/aips/<aip>/text                            OCR progress, pages with text
    GET  /api/v1/aips/<aip>/pages/<page>/text               one page's texts
    PUT  /api/v1/aips/<aip>/pages/<page>/transcriptions/<language>   (archivists)
    GET  /aips/<aip>/pages/<page>/transcription             the page beside its text (+ form)
    POST /aips/<aip>/pages/<page>/transcription             the form (archivists)
"""
from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import quote

from flask import (Blueprint, Response, current_app, redirect, render_template, request,
                   url_for)

from repository.access.image_resolver import image_id
from repository.access.presentation import MEDIA_TYPE
from repository.access.rights import AuthenticationRequired
from repository.catalog import authenticate, get_aip
from repository.errors import NotFound, PermissionDenied, UsageError
from repository.text import latest_job, read_transcriptions, save_transcription
from repository.text.iiif import (TextUrls, annotation_page, autocomplete_response_1,
                                  autocomplete_response_2, search_response_1,
                                  search_response_2)
from repository.text.pages import aip_pages, current_texts, find_page
from repository.text.search_within import (TextIndexCache, autocomplete, empty_result,
                                           search_within)
from repository.web.auth import check_reader, current_user, require_roles

# The transcription editor still signs in by ?token= (its own cookie); web/auth.py no longer
# defines this name since sign-in moved to the session (issue 10). Kept here so the app starts.
TOKEN_COOKIE = "kho_token"

blueprint = Blueprint("text", __name__, template_folder="templates")

# Content Search 2.0 answers as JSON-LD with its context as profile; 1.0 as plain JSON
# (what its clients expect); annotations as Presentation 3.
SEARCH_2_TYPE = 'application/ld+json;profile="http://iiif.io/api/search/2/context.json"'
SEARCH_1_TYPE = "application/json"
# Parameters of Content Search (§4.1.1) that Kho does not filter on: answered as ignored.
IGNORED_PARAMETERS = ("date", "user")
EDIT_ROLES = ("archivist", "admin")
COOKIE_MAX_AGE = 12 * 3600


TEXT_INDEX = "kho.text_index"


def init_app(app) -> None:
    app.extensions.setdefault(TEXT_INDEX, TextIndexCache())


def _services():
    return current_app.extensions["kho"]


def _base() -> str:
    settings = _services().settings
    return settings.base_url.rstrip("/") if settings.base_url else request.url_root.rstrip("/")


def _json(document: dict, content_type: str) -> Response:
    body = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    response = Response(body, content_type=content_type)
    response.headers["Cache-Control"] = "no-cache"
    response.vary.update(("Authorization", "Cookie"))
    return response


@blueprint.after_request
def allow_any_origin(response: Response) -> Response:
    # Content Search and annotations are read by viewers on other sites (as the manifest is).
    if request.path.startswith("/iiif/"):
        response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@blueprint.get("/iiif/3/<aip_id>/annotations/<canvas>")
def annotations(aip_id: str, canvas: str):
    with _services().catalog.session() as session:
        aip = get_aip(session, aip_id)
        check_reader(aip)
        page = find_page(aip_pages(session, aip), canvas)
        if page is None:
            raise NotFound(f"AIP {aip_id} has no canvas {canvas!r}")
        rows = [r for r in current_texts(session, aip) if r.image_sha512 == page.sha512]
        document = annotation_page(TextUrls(_base(), aip.identifier), page, rows)
    return _json(document, MEDIA_TYPE)


def _search_args() -> tuple[str, int, list[str], bool]:
    query = request.args.get("q", "")
    raw_page = request.args.get("page", "1")
    if not raw_page.isdigit() or int(raw_page) < 1:
        raise UsageError("page must be a whole number from 1")
    ignored = [p for p in IGNORED_PARAMETERS if request.args.get(p)]
    # Every annotation Kho has for text is "supplementing" (1.0 clients say "painting").
    motivations = set(request.args.get("motivation", "").split())
    matches = not motivations or bool(motivations & {"supplementing", "painting", "sc:painting"})
    return query, int(raw_page), ignored, matches


def _search(aip_id: str, version: int):
    query, page, ignored, matches = _search_args()
    settings = _services().settings
    with _services().catalog.session() as session:
        aip = get_aip(session, aip_id)
        check_reader(aip)
        urls = TextUrls(_base(), aip.identifier)
        result = search_within(session, aip, query, page=page,
                               page_size=settings.content_search_page_size,
                               cache=current_app.extensions[TEXT_INDEX]) if matches else \
            empty_result(query)
        build = search_response_2 if version == 2 else search_response_1
        return _json(build(urls, query, result, ignored),
                     SEARCH_2_TYPE if version == 2 else SEARCH_1_TYPE)


def _autocomplete(aip_id: str, version: int):
    query = request.args.get("q", "")
    raw_min = request.args.get("min", "1")
    if not raw_min.isdigit():
        raise UsageError("min must be a whole number")
    ignored = [p for p in (*IGNORED_PARAMETERS, "motivation") if request.args.get(p)]
    with _services().catalog.session() as session:
        aip = get_aip(session, aip_id)
        check_reader(aip)
        terms = autocomplete(session, aip, query, minimum=max(1, int(raw_min)),
                             cache=current_app.extensions[TEXT_INDEX])
        urls = TextUrls(_base(), aip.identifier)
        build = autocomplete_response_2 if version == 2 else autocomplete_response_1
        return _json(build(urls, query, terms, ignored),
                     SEARCH_2_TYPE if version == 2 else SEARCH_1_TYPE)


@blueprint.get("/iiif/search/2/<aip_id>")
def search_2(aip_id: str):
    return _search(aip_id, 2)


@blueprint.get("/iiif/search/1/<aip_id>")
def search_1(aip_id: str):
    return _search(aip_id, 1)


@blueprint.get("/iiif/search/2/<aip_id>/autocomplete")
def autocomplete_2(aip_id: str):
    return _autocomplete(aip_id, 2)


@blueprint.get("/iiif/search/1/<aip_id>/autocomplete")
def autocomplete_1(aip_id: str):
    return _autocomplete(aip_id, 1)


# --- the text API ----------------------------------------------------------------------

@blueprint.get("/api/v1/aips/<identifier>/text")
def text_status(identifier: str):
    """The latest OCR run (progress, failed pages) and each page's texts (source, language)."""
    services = _services()
    aip_id = identifier
    with services.catalog.session() as session:
        aip = get_aip(session, aip_id)
        check_reader(aip)
        pages = aip_pages(session, aip)
        rows = current_texts(session, aip)
        by_sha: dict[str, list] = {}
        for row in rows:
            by_sha.setdefault(row.image_sha512, []).append(
                {"source": row.source, "language": row.language, "characters": len(row.text)})
        listing = [{"page": p.logical_path, "canvas": p.canvas_name,
                    "texts": by_sha.get(p.sha512, [])} for p in pages]
    job = latest_job(services.catalog, aip_id)
    return {"aip": aip_id, "ocr": job.as_dict() if job else None, "pages": listing}


@blueprint.get("/api/v1/aips/<identifier>/pages/<path:page>/text")
def page_text(identifier: str, page: str):
    with _services().catalog.session() as session:
        check_reader(get_aip(session, identifier))
    found, texts = read_transcriptions(_services().catalog, identifier, page)
    return {"page": found.logical_path, "canvas": found.canvas_name,
            "texts": list(texts.values())}


@blueprint.put("/api/v1/aips/<identifier>/pages/<path:page>/transcriptions/<language>")
@require_roles("archivist")
def put_transcription(identifier: str, page: str, language: str):
    """Add or correct a page's transcription: text/plain (UTF-8) or {"text": "…"}."""
    if request.mimetype == "application/json":
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            raise UsageError('send {"text": "…"} or the transcription as text/plain')
        text = body["text"]
    else:
        try:
            text = request.get_data().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UsageError(f"the transcription is not UTF-8 (byte {exc.start})") from None
    version = save_transcription(_services().settings, _services().catalog, identifier, page,
                                 language=language, text=text, agent=current_user().name)
    return {"aip": identifier, "page": page, "language": language, "version": version}


# --- the page beside its text, and the archivist's form ------------------------------------

def _form_token(token: str, aip_id: str, canvas: str) -> str:
    """A per-form secret only the holder of ``token`` can compute (CSRF: another site can
    make the browser send the cookie, but cannot read this page to learn the value)."""
    return hmac.new(token.encode(), f"transcription:{aip_id}:{canvas}".encode(),
                    hashlib.sha256).hexdigest()


def _page_url(aip_id: str, canvas: str) -> str:
    return url_for("text.transcription_page", aip_id=aip_id, canvas=canvas)


@blueprint.get("/aips/<aip_id>/text")
def first_page_text(aip_id: str):
    """The page-by-page text view, from the first page with text (else the first page)."""
    with _services().catalog.session() as session:
        aip = get_aip(session, aip_id)
        check_reader(aip)
        pages = aip_pages(session, aip)
        if not pages:
            raise NotFound(f"AIP {aip_id} has no page images")
        with_text = {r.image_sha512 for r in current_texts(session, aip)}
        first = next((p for p in pages if p.sha512 in with_text), pages[0])
    query = f"?token={quote(request.args['token'])}" if "token" in request.args else ""
    return redirect(_page_url(aip_id, first.canvas_name) + query, code=303)


@blueprint.get("/aips/<aip_id>/pages/<canvas>/transcription")
def transcription_page(aip_id: str, canvas: str):
    services = _services()
    with services.catalog.session() as session:
        aip = get_aip(session, aip_id)
        check_reader(aip)  # a bad ?token= is refused here
        title = aip.dublin_core.title if aip.dublin_core else aip.identifier
        pages = aip_pages(session, aip)
    if "token" in request.args:  # sign the browser in, as the viewer does, then a clean URL
        response = redirect(_page_url(aip_id, canvas), code=303)
        response.set_cookie(TOKEN_COOKIE, request.args["token"].strip(), max_age=COOKIE_MAX_AGE,
                            httponly=True, samesite="Strict", secure=request.is_secure,
                            path=request.script_root or "/")
        return response
    page, texts = read_transcriptions(services.catalog, aip_id, canvas)
    number = next(n for n, p in enumerate(pages, 1) if p.sha512 == page.sha512)
    user = current_user()
    token = request.cookies.get(TOKEN_COOKIE, "")
    editable = user is not None and user.role in EDIT_ROLES and bool(token)
    response = current_app.make_response(render_template(
        "text/page.html", aip_id=aip_id, title=title, page=page, number=number,
        pages=len(pages), texts=texts, editable=editable,
        editable_languages=_editable_languages(texts),
        image=f"{_base()}/iiif/3/image/{quote(image_id(aip_id, page.sha512), safe='~')}"
              "/full/!900,1200/0/default.jpg",
        previous=pages[number - 2].canvas_name if number > 1 else None,
        next=pages[number].canvas_name if number < len(pages) else None,
        form_token=_form_token(token, aip_id, page.canvas_name) if editable else "",
        saved=request.args.get("saved")))
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _editable_languages(texts: dict) -> list[tuple[str, str]]:
    """Hán-Nôm and Quốc ngữ, then any other language the page has a transcription in."""
    names = {"vi-Hani": "Hán-Nôm", "vi": "Quốc ngữ"}
    others = sorted(t["language"] for t in texts.values()
                    if t["source"] == "transcription" and t["language"] not in names)
    return list(names.items()) + [(language, language) for language in others]


@blueprint.post("/aips/<aip_id>/pages/<canvas>/transcription")
def transcription_form(aip_id: str, canvas: str):
    """The form's answer. Browsers send the sign-in cookie, so the form token must match."""
    services = _services()
    token = request.cookies.get(TOKEN_COOKIE, "")
    if not token:
        raise AuthenticationRequired("sign in first: open this page with ?token=<token>")
    with services.catalog.session() as session:
        user = authenticate(session, token)
        if user is None:
            raise AuthenticationRequired("the token is not valid")
        name, role = user.name, user.role
    if role not in EDIT_ROLES:
        raise PermissionDenied(f"the {role} role may not change transcriptions")
    with services.catalog.session() as session:
        page = find_page(aip_pages(session, get_aip(session, aip_id)), canvas)
    if page is None:
        raise NotFound(f"AIP {aip_id} has no page {canvas!r}")
    sent = request.form.get("form_token", "")
    if not hmac.compare_digest(sent, _form_token(token, aip_id, page.canvas_name)):
        raise PermissionDenied("the form is out of date or was not sent from Kho: reload it")
    language = request.form.get("language", "").strip()
    version = save_transcription(services.settings, services.catalog, aip_id, canvas,
                                 language=language, text=request.form.get("text", ""),
                                 agent=name)
    return redirect(_page_url(aip_id, page.canvas_name) + f"?saved={version}", code=303)
