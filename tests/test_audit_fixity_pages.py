"""/audit/fixity for auditors: summary, plot, filters, CSV, one AIP's history; tokens enforced."""
from __future__ import annotations

import io

import pytest

from repository.catalog import add_user
from repository.fixity import check_aips
from repository.ingest.pipeline import ingest_package
from repository.storage import get_location
from repository.web import create_app
from tests.fixtures.aips import add_collections, make_page_bag


@pytest.fixture
def site(settings, tmp_path):
    app = create_app(settings)
    catalog = app.extensions["kho"].catalog
    add_collections(catalog, "Hán-Nôm", "Báo chí")
    aips = [ingest_package(make_page_bag(tmp_path / f"b{n}", pages=1, size=(40, 50),
                                         external_id=f"A-{n}"), settings=settings,
                           catalog=catalog, collection=name)
            for n, name in ((1, "Hán-Nôm"), (2, "Báo chí"))]
    storage = get_location(settings, "local")
    storage.put(f"{aips[1].object_root}/v1/content/data/trang 1.jpg", io.BytesIO(b"x"),
                algorithms=())
    check_aips(settings, catalog, [a.identifier for a in aips])
    with catalog.session() as session:
        tokens = {role: add_user(session, f"u-{role}", role)[1]
                  for role in ("auditor", "researcher", "admin")}
    return app.test_client(), aips, tokens


def test_audit_page_needs_an_auditor_or_admin_token(site):
    client, _, tokens = site
    assert client.get("/audit/fixity").status_code == 401
    assert client.get("/audit/fixity?token=kho_wrong").status_code == 401
    assert client.get(f"/audit/fixity?token={tokens['researcher']}").status_code == 403
    assert client.get("/audit/fixity", headers={
        "Authorization": f"Bearer {tokens['admin']}"}).status_code == 200


def test_audit_page_shows_summary_plot_failures_and_filters(site):
    client, aips, tokens = site
    page = client.get(f"/audit/fixity?token={tokens['auditor']}").get_data(as_text=True)
    assert "<svg" in page and "Coverage" in page and "50.0%" in page
    assert aips[1].identifier in page and "size changed" in page
    assert f"/audit/fixity/{aips[1].identifier}?token=" in page  # links keep the token
    only = client.get(f"/audit/fixity?token={tokens['auditor']}&collection=Hán-Nôm")
    assert aips[1].identifier not in only.get_data(as_text=True)
    csv_text = client.get(f"/audit/fixity?token={tokens['auditor']}&format=csv")
    assert csv_text.mimetype == "text/csv"
    assert "trang 1.jpg" in csv_text.get_data(as_text=True)
    assert client.get(f"/audit/fixity?token={tokens['auditor']}&since=notadate").status_code == 400


def test_history_of_one_aip_lists_its_checks_and_problems(site):
    client, aips, tokens = site
    page = client.get(f"/audit/fixity/{aips[1].identifier}?token={tokens['auditor']}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "failure" in text and "trang 1.jpg" in text
    assert client.get(f"/audit/fixity/nope?token={tokens['auditor']}").status_code == 404
