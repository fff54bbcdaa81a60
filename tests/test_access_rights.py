"""Who may read what: public, restricted and embargoed AIPs and collections, through every door a
researcher uses (manifest, info.json, image tiles, file downloads, the viewer, collection listings)."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from repository.catalog import AipFile, add_user, get_aip
from repository.web import create_app
from tests.fixtures.aips import make_page_bag
from tests.fixtures.web import PASSWORD, sign_in

FUTURE = (date.today() + timedelta(days=365)).isoformat()
PAST = (date.today() - timedelta(days=1)).isoformat()


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
            _, made[role] = add_user(session, f"{role}-mai", role)
    return made


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def ingest(ingest_bag, tmp_path):
    count = iter(range(1000))

    def run(access: str = "public", collection: str = "Hán-Nôm") -> str:
        n = next(count)
        bag = make_page_bag(tmp_path / f"bag{n}", pages=2, size=(200, 260), external_id=f"AR-{n}")
        return ingest_bag(bag, collection=collection, access=access).identifier
    return run


def urls(app, aip_id: str) -> dict[str, str]:
    """One URL of each kind a researcher's browser or script asks for."""
    with app.extensions["kho"].catalog.session() as session:
        aip = get_aip(session, aip_id)
        sha = session.scalar(select(AipFile.sha512).where(
            AipFile.aip_id == aip.id, AipFile.logical_path == "data/trang 1.jpg"))
    image = f"/iiif/3/image/{aip_id}~{sha[:32]}"
    return {"manifest": f"/iiif/3/{aip_id}/manifest", "info.json": f"{image}/info.json",
            "tile": f"{image}/0,0,200,200/100,/0/default.jpg",
            "file": f"/api/v1/aips/{aip_id}/files/data/trang 1.jpg", "viewer": f"/view/{aip_id}"}


def statuses(client, app, aip_id: str, headers: dict | None = None) -> dict[str, int]:
    return {kind: client.get(url, headers=headers or {}).status_code
            for kind, url in urls(app, aip_id).items()}


def test_public_aip_needs_nothing(app, ingest):
    aip = ingest("public")
    client = app.test_client()
    assert set(statuses(client, app, aip).values()) == {200}
    assert "public" in client.get(urls(app, aip)["manifest"]).headers["Cache-Control"]


def test_restricted_aip_answers_401_to_strangers_and_opens_to_any_account(app, ingest, tokens):
    aip = ingest("restricted")
    client = app.test_client()
    assert set(statuses(client, app, aip).values()) == {401}
    researcher = bearer(tokens["researcher"])
    for kind, url in urls(app, aip).items():
        response = client.get(url, headers=researcher)
        assert response.status_code == 200, (kind, response.get_data(as_text=True)[:300])
        assert "private" in response.headers.get("Cache-Control", ""), kind
        assert "public" not in response.headers.get("Cache-Control", ""), kind


def test_embargo_in_force_is_403_for_researchers_and_open_to_archivists(app, ingest, tokens):
    aip = ingest(f"embargoed:{FUTURE}")
    client = app.test_client()
    assert set(statuses(client, app, aip).values()) == {401}
    assert set(statuses(client, app, aip, bearer(tokens["researcher"])).values()) == {403}
    assert set(statuses(client, app, aip, bearer(tokens["archivist"])).values()) == {200}


def test_lapsed_embargo_opens_the_aip_to_everyone(app, ingest):
    aip = ingest(f"embargoed:{PAST}")
    assert set(statuses(app.test_client(), app, aip).values()) == {200}


def test_archivist_restricts_a_whole_collection_and_its_items_close(app, ingest, tokens):
    aip = ingest("public", collection="Châu bản")
    client = app.test_client()
    body = {"access": "restricted"}
    assert client.patch("/api/v1/collections/Châu bản", json=body).status_code == 401
    assert client.patch("/api/v1/collections/Châu bản", json=body,
                        headers=bearer(tokens["researcher"])).status_code == 403
    changed = client.patch("/api/v1/collections/Châu bản", json=body,
                           headers=bearer(tokens["archivist"]))
    assert changed.status_code == 200 and changed.get_json()["access"] == "restricted"
    assert set(statuses(client, app, aip).values()) == {401}
    assert client.get("/iiif/3/collection/Châu bản").status_code == 401
    listed = client.get("/iiif/3/collection").get_json(force=True)
    assert "Châu bản" not in str(listed)
    assert set(statuses(client, app, aip, bearer(tokens["researcher"])).values()) == {200}
    as_researcher = client.get("/iiif/3/collection", headers=bearer(tokens["researcher"]))
    assert "Châu bản" in as_researcher.get_data(as_text=True)
    assert "private" in as_researcher.headers["Cache-Control"]
    assert client.patch("/api/v1/collections/Châu bản", json={"access": "sometimes"},
                        headers=bearer(tokens["archivist"])).status_code == 400


def test_restricted_items_are_left_out_of_collection_listings(app, ingest, tokens):
    open_aip, closed_aip = ingest("public"), ingest("restricted")
    embargoed = ingest(f"embargoed:{FUTURE}")
    client = app.test_client()

    def listed(headers=None):
        body = client.get("/iiif/3/collection/Hán-Nôm", headers=headers or {}).get_data(as_text=True)
        return {a for a in (open_aip, closed_aip, embargoed) if a in body}

    assert listed() == {open_aip}
    assert listed(bearer(tokens["researcher"])) == {open_aip, closed_aip}
    assert listed(bearer(tokens["archivist"])) == {open_aip, closed_aip, embargoed}


def test_changing_an_aips_access_takes_effect_at_once(app, ingest, tokens):
    aip = ingest("public")
    client = app.test_client()
    manifest = urls(app, aip)["manifest"]
    assert client.get(manifest).status_code == 200  # now cached
    client.patch(f"/api/v1/aips/{aip}", json={"access": "restricted"},
                 headers=bearer(tokens["archivist"]))
    assert client.get(manifest).status_code == 401
    assert client.get(urls(app, aip)["tile"]).status_code == 401


def test_browser_signs_in_with_a_password_then_its_session_opens_viewer_manifest_and_tiles(
        app, ingest):
    aip = ingest("restricted")
    with app.extensions["kho"].catalog.session() as session:
        _, token = add_user(session, "bạn đọc", "researcher", password=PASSWORD)
    client = app.test_client()
    assert client.get(f"/view/{aip}").status_code == 401
    # A token in the URL is no longer read (it would end up in logs and histories).
    assert client.get(f"/view/{aip}?token={token}").status_code == 401
    assert client.get(urls(app, aip)["manifest"] + f"?token={token}").status_code == 401
    sign_in(client, "bạn đọc")
    # The test client keeps the session cookie, as the browser does.
    assert set(statuses(client, app, aip).values()) == {200}
    # The session never authorises a change without the form's CSRF token.
    refused = client.patch(f"/api/v1/aips/{aip}", json={"access": "public"})
    assert refused.status_code == 400 and "CSRF" in refused.get_data(as_text=True)


def test_viewer_shows_the_title_and_404s_unknown_aips(app, ingest):
    aip = ingest("public")
    page = app.test_client().get(f"/view/{aip}").get_data(as_text=True)
    assert "<title>Đại Nam thực lục – Hà Nội · Kho lưu trữ</title>" in page
    assert app.test_client().get("/view/no-such-aip").status_code == 404


def test_totals_and_collection_listings_never_count_what_the_caller_may_not_read(app, ingest,
                                                                                tokens):
    """The attack: totals of a search by an anonymous caller spelt out an embargoed title."""
    ingest("public")
    ingest("restricted")
    ingest(f"embargoed:{FUTURE}")
    ingest("public", collection="Châu bản")
    client = app.test_client()
    assert client.patch("/api/v1/collections/Châu bản", json={"access": "restricted"},
                        headers=bearer(tokens["archivist"])).status_code == 200

    def seen(headers=None):
        listing = client.get("/api/v1/aips?per_page=1", headers=headers or {}).get_json()
        search = client.get("/api/v1/aips?q=dai+nam&per_page=50", headers=headers or {}).get_json()
        collections = client.get("/api/v1/collections", headers=headers or {}).get_json()
        home = client.get("/?q=dai+nam", headers=headers or {}).get_data(as_text=True)
        assert len(search["aips"]) == search["total"]
        return (listing["total"], search["total"],
                {c["name"]: c["aips"] for c in collections["collections"]},
                "Châu bản" in home)

    assert seen() == (1, 1, {"Hán-Nôm": 1}, False)
    assert seen(bearer(tokens["researcher"])) == (3, 3, {"Hán-Nôm": 2, "Châu bản": 1}, True)
    assert seen(bearer(tokens["archivist"])) == (4, 4, {"Hán-Nôm": 3, "Châu bản": 1}, True)
