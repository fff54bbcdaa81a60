"""Attacks from outside, each replayed against the web door (issue 8): deposited HTML that
would run as the reader, markup in Dublin Core, forged Host headers, tokens in logs, staff
names and server paths shown to the public, and the headers every answer carries."""
from __future__ import annotations

import json
import logging
import re
import socket
import urllib.request

import pytest

from repository.catalog import add_user, record_event
from repository.web import create_app
from tests.fixtures.aips import add_collections, dublin_core, make_page_bag
from tests.fixtures.bags import write_tag_manifest
from tests.fixtures.servers import serving
from tests.fixtures.web import PASSWORD

HTML = b"<html><body><script>fetch('/api/v1/aips').then(r => r.text())</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'


@pytest.fixture
def app(ingest_bag):
    app = create_app(ingest_bag.settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["kho"].catalog.dispose()


@pytest.fixture
def tokens(app):
    made = {}
    with app.extensions["kho"].catalog.session() as session:
        for role in ("archivist", "researcher"):
            _, made[role] = add_user(session, f"{role}-lan", role)
    return {role: {"Authorization": f"Bearer {token}"} for role, token in made.items()}


@pytest.fixture
def aip(ingest_bag, tmp_path):
    bag = make_page_bag(tmp_path / "bag", pages=1, size=(200, 260), extra_files={
        "data/page.html": HTML, "data/hinh.svg": SVG, "data/ghi chú.txt": "Hà Nội".encode()})
    return ingest_bag(bag, agent="archivist-lan").identifier


def test_deposited_html_and_svg_are_downloads_that_cannot_run_in_kho(app, aip):
    client = app.test_client()
    for name in ("page.html", "hinh.svg"):
        response = client.get(f"/api/v1/aips/{aip}/files/data/{name}")
        assert response.status_code == 200
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response.headers["Content-Security-Policy"]
    page = client.get(f"/api/v1/aips/{aip}/files/data/trang 1.jpg")
    assert page.headers["Content-Disposition"].startswith("inline;")  # images still show
    assert "sandbox" in page.headers["Content-Security-Policy"]
    text = client.get(f"/api/v1/aips/{aip}/files/data/ghi chú.txt")
    assert "filename*=UTF-8''ghi%20ch%C3%BA.txt" in text.headers["Content-Disposition"]


def test_kho_pages_allow_only_kho_scripts_and_refuse_to_be_framed(app, aip):
    client = app.test_client()
    for url in ("/", f"/aips/{aip}", f"/view/{aip}", "/api/v1/aips", "/no/such/page",
                f"/iiif/3/{aip}/manifest"):
        headers = client.get(url).headers
        assert headers["X-Content-Type-Options"] == "nosniff", url
        assert headers["Referrer-Policy"] == "same-origin", url
        assert headers["X-Frame-Options"] == "DENY", url
        policy = dict(part.strip().split(" ", 1) for part in
                      headers["Content-Security-Policy"].split(";"))
        assert policy["script-src"] == "'self'" and policy["default-src"] == "'self'", url
        assert policy["frame-ancestors"] == "'none'", url
    viewer = client.get(f"/view/{aip}").get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", viewer), "an inline script is left"
    assert not re.search(r"\son[a-z]+\s*=", viewer), "an inline event handler is left"
    assets = re.findall(r'(?:src|href)="(/[^"]+\.(?:js|css))"', viewer)
    assert assets, "the viewer's script and style are files of Kho's"
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_the_viewer_can_be_embedded_only_by_the_sites_named_in_the_setting(ingest_bag, aip):
    settings = ingest_bag.settings.replace(viewer_frame_ancestors="https://thuvien.example.vn")
    app = create_app(settings)
    try:
        client = app.test_client()
        viewer = client.get(f"/view/{aip}").headers
        assert "X-Frame-Options" not in viewer
        assert "frame-ancestors https://thuvien.example.vn" in viewer["Content-Security-Policy"]
        assert client.get("/").headers["X-Frame-Options"] == "DENY"
    finally:
        app.extensions["kho"].catalog.dispose()


def test_dublin_core_markup_reaches_the_manifest_as_text(ingest_bag, app, tmp_path):
    markup = '<img src=x onerror="alert(1)"><a href="//evil">x</a>'
    bag = make_page_bag(tmp_path / "bag", pages=1, size=(200, 260), title=f"Sắc phong {markup}")
    # The summary comes from dc:description: the same markup there, in a record of its own.
    (bag / "metadata" / "dc.json").write_text(json.dumps(dublin_core(
        f"Sắc phong {markup}", description=[{"value": f"Mô tả {markup}", "lang": "vi"}]),
        ensure_ascii=False), encoding="utf-8")
    write_tag_manifest(bag, ("sha256",))
    aip = ingest_bag(bag).identifier
    manifest = app.test_client().get(f"/iiif/3/{aip}/manifest").get_json(force=True)
    for field in ("label", "summary", "metadata"):
        text = json.dumps(manifest[field], ensure_ascii=False)
        assert "<img" not in text and "<a " not in text, field
    assert manifest["summary"] == {"vi": ['Mô tả &lt;img src=x onerror="alert(1)"&gt;'
                                          '&lt;a href="//evil"&gt;x&lt;/a&gt;']}
    texts = json.dumps([manifest["label"], manifest["metadata"]], ensure_ascii=False)
    assert "Sắc phong &lt;img src=x onerror=\\\"alert(1)\\\"&gt;" in texts


def test_an_invalid_token_is_refused_on_listings_as_on_single_aips(app, aip):
    client = app.test_client()
    bad = {"Authorization": "Bearer not-a-token"}
    for url in ("/api/v1/aips", "/api/v1/aips?q=ha", "/api/v1/collections", "/",
                "/iiif/3/collection", f"/api/v1/aips/{aip}"):
        assert client.get(url, headers=bad).status_code == 401, url
        # Tokens are never read from URLs (they end up in logs and histories): a ?token= is
        # no credential at all, so the answer is the anonymous one, never an authorised one.
        anonymous = client.get(url).status_code
        assert client.get(url + ("&" if "?" in url else "?") + "token=nope").status_code \
            == anonymous, url


def test_a_forged_host_header_decides_neither_ids_nor_redirects(ingest_bag, aip):
    settings = ingest_bag.settings.replace(base_url="https://kho.thuvien.example.vn")
    app = create_app(settings)
    try:
        client = app.test_client()
        evil = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
        manifest = client.get(f"/iiif/3/{aip}/manifest", headers=evil).get_json(force=True)
        assert manifest["id"].startswith("https://kho.thuvien.example.vn/iiif/3/")
        assert "evil" not in json.dumps(manifest)
        redirect = client.get("/api/v1/aips/", headers=evil)  # werkzeug's own slash redirect
        assert "evil" not in redirect.headers.get("Location", "")
    finally:
        app.extensions["kho"].catalog.dispose()


def test_forwarded_headers_count_only_from_the_trusted_proxy(ingest_bag, aip):
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "kho.thuvien.example.vn"}
    untrusted = create_app(ingest_bag.settings)
    trusted = create_app(ingest_bag.settings.replace(trusted_proxies=1))
    try:
        ignored = untrusted.test_client().get(f"/iiif/3/{aip}/manifest", headers=forwarded)
        assert ignored.get_json(force=True)["id"].startswith("http://localhost/")
        assert "Strict-Transport-Security" not in ignored.headers
        believed = trusted.test_client().get(f"/iiif/3/{aip}/manifest", headers=forwarded)
        assert believed.get_json(force=True)["id"].startswith("https://kho.thuvien.example.vn/")
        assert "Strict-Transport-Security" in believed.headers  # the request counts as HTTPS
    finally:
        for app in (untrusted, trusted):
            app.extensions["kho"].catalog.dispose()


def test_https_at_the_trusted_proxy_makes_the_session_cookie_secure(kho_settings):
    """Issue 8 item 13: TLS ends at the proxy, so Kho sees http; X-Forwarded-Proto from the
    trusted proxy (ProxyFix's x_proto) is what makes the session cookie Secure."""
    forwarded = {"X-Forwarded-Proto": "https", "Referer": "https://localhost/signin"}
    cookies = {}
    for hops in (0, 1):
        app = create_app(kho_settings.replace(trusted_proxies=hops))
        try:
            with app.extensions["kho"].catalog.session() as session:
                if hops == 0:
                    add_user(session, "Nguyễn Thị Lan", "archivist", password=PASSWORD)
            client = app.test_client()  # plain http, as the proxy forwards it
            page = client.get("/signin", headers=forwarded).get_data(as_text=True)
            token = page.split('name="csrf_token" value="')[1].split('"')[0]
            signed_in = client.post("/signin", headers=forwarded, data={
                "name": "Nguyễn Thị Lan", "password": PASSWORD, "csrf_token": token})
            assert signed_in.status_code == 303, signed_in.get_data(as_text=True)[:300]
            cookies[hops] = next(c for c in signed_in.headers.getlist("Set-Cookie")
                                 if c.startswith("kho_session="))
        finally:
            app.extensions["kho"].catalog.dispose()
    assert "Secure" not in cookies[0]  # the header alone, from anyone, proves nothing
    assert "; Secure" in cookies[1] and "HttpOnly" in cookies[1]


def test_tokens_never_reach_the_access_log(app, tokens, aip, caplog):
    token = tokens["researcher"]["Authorization"].split()[1]
    caplog.set_level(logging.INFO, logger="werkzeug")
    with serving(app) as url:
        for path in (f"/?token={token}", f"/view/{aip}?x=1&token={token}",
                     f"/api/v1/aips?access_token={token}"):
            try:
                urllib.request.urlopen(url + path, timeout=30).read()
            except urllib.error.HTTPError:
                pass
    lines = [record.getMessage() for record in caplog.records if record.name == "werkzeug"]
    assert any("token=[redacted]" in line for line in lines), lines
    assert not any(token in line for line in lines)


def test_the_public_sees_roles_not_staff_names_or_worker_processes(app, tokens, aip):
    worker = f"Kho 0.1.0 fixity ({socket.gethostname()}:4242)"
    with app.extensions["kho"].catalog.session() as session:
        record_event(session, event_type="fixity check", agent=worker, outcome="success",
                     aip_identifier=aip)
    client = app.test_client()
    for headers in ({}, tokens["researcher"]):
        for url in (f"/api/v1/aips/{aip}", f"/api/v1/aips/{aip}/premis.xml", f"/aips/{aip}"):
            text = client.get(url, headers=headers).get_data(as_text=True)
            assert "archivist-lan" not in text and socket.gethostname() not in text, url
        detail = client.get(f"/api/v1/aips/{aip}", headers=headers).get_json()
        agents = {e["agent"] for e in detail["events"]}
        assert "Kho 0.1.0 for an archivist" in agents and "Kho 0.1.0 fixity" in agents
    staff = client.get(f"/api/v1/aips/{aip}", headers=tokens["archivist"]).get_json()
    assert worker in {e["agent"] for e in staff["events"]}
    # The record page says it in the reader's language (Vietnamese until they choose).
    page = client.get(f"/aips/{aip}").get_data(as_text=True)
    assert "Kho 0.1.0, do một lưu trữ viên thực hiện" in page and "for an archivist" not in page
    client.get("/language/en")
    english = client.get(f"/aips/{aip}").get_data(as_text=True)
    assert "Kho 0.1.0 for an archivist" in english


def test_a_failed_deposit_never_shows_server_paths(app, tokens, tmp_path):
    import time
    add_collections(app.extensions["kho"].catalog, "Hán-Nôm")
    client = app.test_client()
    response = client.post("/api/v1/deposits?collection=Hán-Nôm", data=b"not a zip at all",
                           headers={**tokens["archivist"], "Content-Type": "application/zip"})
    assert response.status_code == 202
    deadline = time.monotonic() + 60
    while (status := client.get(response.headers["Location"],
                                headers=tokens["archivist"]).get_json())["status"] != "failed":
        assert time.monotonic() < deadline, status
        time.sleep(0.1)
    text = json.dumps(status, ensure_ascii=False)
    data_dir = str(app.extensions["kho"].settings.data_dir)
    assert data_dir not in text and str(tmp_path) not in text and "staging" not in text
    app.extensions["kho"].extras["deposit_executor"].shutdown(wait=True)


def test_a_closed_collection_is_not_confirmed_by_filtering_on_its_name(app, tokens, ingest_bag,
                                                                       tmp_path):
    ingest_bag(make_page_bag(tmp_path / "c", pages=1, size=(100, 130), external_id="C"),
               collection="Châu bản")
    client = app.test_client()
    assert client.patch("/api/v1/collections/Châu bản", json={"access": "restricted"},
                        headers=tokens["archivist"]).status_code == 200
    closed = client.get("/api/v1/aips?collection=Châu bản")
    missing = client.get("/api/v1/aips?collection=Châu bản khác")
    assert closed.status_code == missing.status_code == 404
    assert closed.get_json()["message"] == "no collection named 'Châu bản'"
    opened = client.get("/api/v1/aips?collection=Châu bản", headers=tokens["researcher"])
    assert opened.status_code == 200 and opened.get_json()["total"] == 1
