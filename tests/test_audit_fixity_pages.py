"""/audit/fixity for auditors: summary, plot, filters, CSV, one AIP's history, the event log
check on demand; signed-in auditors (or Bearer tokens for scripts) only."""
from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import pytest

from repository.catalog import EVENT_TYPES, OUTCOMES as EVENT_OUTCOMES, add_user
from repository.fixity import check_aips
from repository.fixity.models import OUTCOMES as FILE_OUTCOMES
from repository.ingest.pipeline import ingest_package
from repository.storage import get_location
from repository.web import create_app
from tests.fixtures.aips import add_collections, make_page_bag
from tests.fixtures.web import PASSWORD, csrf_token, sign_in


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
        tokens = {role: add_user(session, f"u-{role}", role, password=PASSWORD)[1]
                  for role in ("auditor", "researcher", "admin")}
    return app.test_client(), aips, tokens


@pytest.fixture
def auditor(site):
    client, aips, tokens = site
    sign_in(client, "u-auditor")
    return client, aips


def test_audit_page_needs_a_signed_in_auditor_or_admin(site):
    client, _, tokens = site
    assert client.get("/audit/fixity").status_code == 401
    # Tokens in the URL are not read any more; scripts send the header.
    assert client.get(f"/audit/fixity?token={tokens['auditor']}").status_code == 401
    assert client.get("/audit/fixity", headers={
        "Authorization": f"Bearer {tokens['admin']}"}).status_code == 200
    sign_in(client, "u-researcher")
    assert client.get("/audit/fixity").status_code == 403


def test_audit_page_shows_summary_plot_failures_and_filters(auditor):
    client, aips = auditor
    page = client.get("/audit/fixity").get_data(as_text=True)
    # One AIP's latest check failed: it is not proven, so coverage is half, not 100%.
    assert "<svg" in page and 'id="coverage">50,0%' in page
    assert ">Lần kiểm tra AIP</text>" in page  # the plot's legend in the reader's language
    assert aips[1].identifier in page and ">sai kích thước</span>" in page
    assert f'href="/audit/fixity/{aips[1].identifier}"' in page  # no token in any link
    assert '<option value="Hán-Nôm">Hán-Nôm</option>' in page  # the collection is a choice
    only = client.get("/audit/fixity?collection=Hán-Nôm")
    assert aips[1].identifier not in only.get_data(as_text=True)
    csv_text = client.get("/audit/fixity?format=csv")
    assert csv_text.mimetype == "text/csv"
    assert "trang 1.jpg" in csv_text.get_data(as_text=True)
    assert client.get("/audit/fixity?since=notadate").status_code == 400


def test_history_of_one_aip_lists_its_checks_and_problems(auditor):
    client, aips = auditor
    page = client.get(f"/audit/fixity/{aips[1].identifier}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and ">thất bại</span>" in text and "trang 1.jpg" in text
    assert f"/api/v1/aips/{aips[1].identifier}/premis.xml" in text
    assert client.get("/audit/fixity/nope").status_code == 404


def test_auditor_verifies_the_event_log_on_demand_and_sees_when_it_last_ran(auditor):
    client, _ = auditor
    assert "Chưa kiểm tra lần nào." in client.get("/audit/fixity").get_data(as_text=True)
    ran = client.post("/audit/verify", data={"csrf_token": csrf_token(client, "/audit/fixity")})
    assert ran.status_code == 303
    page = client.get("/audit/fixity").get_data(as_text=True)
    assert "nguyên vẹn" in page and "do u-auditor" in page


def test_kho_audit_verify_on_the_command_line_is_the_last_run_the_page_shows(site, settings):
    from click.testing import CliRunner
    from repository.cli import kho
    client, _, _ = site
    sign_in(client, "u-auditor")
    env = {"KHO_DATA_DIR": str(settings.data_dir), "KHO_DATABASE_URL": settings.catalog_url,
           "KHO_STORAGE_CONFIG": str(settings.storage_config_dir)}
    ran = CliRunner().invoke(kho, ["audit", "verify", "--agent", "Phạm Thị Hà"], env=env)
    assert ran.exit_code == 0, ran.output
    page = client.get("/audit/fixity").get_data(as_text=True)
    assert "nguyên vẹn" in page and "do Phạm Thị Hà." in page
    assert "Chưa kiểm tra lần nào." not in page


def test_an_aip_whose_latest_check_failed_is_not_proven_though_an_earlier_one_passed(
        settings, tmp_path):
    app = create_app(settings)
    catalog = app.extensions["kho"].catalog
    add_collections(catalog, "Hán-Nôm")
    aip = ingest_package(make_page_bag(tmp_path / "b", pages=1, size=(40, 50)),
                         settings=settings, catalog=catalog, collection="Hán-Nôm")
    with catalog.session() as session:
        add_user(session, "u-auditor", "auditor", password=PASSWORD)
    client = app.test_client()
    sign_in(client, "u-auditor")
    check_aips(settings, catalog, [aip.identifier])
    assert 'id="coverage">100,0%' in client.get("/audit/fixity").get_data(as_text=True)
    get_location(settings, "local").put(f"{aip.object_root}/v1/content/data/trang 1.jpg",
                                        io.BytesIO(b"x"), algorithms=())
    check_aips(settings, catalog, [aip.identifier])
    page = client.get("/audit/fixity").get_data(as_text=True)
    assert 'id="coverage">0,0%' in page and "0 trên 1 gói AIP được chứng thực" in page
    history = client.get(f"/audit/fixity/{aip.identifier}").get_data(as_text=True)
    assert history.count(">thành công</span>") == 1 and history.count(">thất bại</span>") >= 1
    catalog.dispose()


class VisibleText(HTMLParser):
    """The text a reader sees, without scripts, styles, and what is marked as English."""

    def __init__(self):
        super().__init__()
        self.open: list[tuple[str, bool]] = []  # (tag, hidden) of the elements we are in
        self.seen: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("meta", "link", "input", "img", "br", "hr", "source"):
            return  # void elements never close
        hidden = tag in ("script", "style") or dict(attrs).get("lang") == "en"
        self.open.append((tag, hidden))

    def handle_endtag(self, tag):
        while self.open and self.open.pop()[0] != tag:
            pass

    def handle_data(self, data):
        if not any(hidden for _, hidden in self.open) and data.strip():
            self.seen.append(data.strip())


def _english_vocabulary_seen(html: str) -> set[str]:
    parser = VisibleText()
    parser.feed(html)
    words = set(EVENT_TYPES) | set(EVENT_OUTCOMES) | set(FILE_OUTCOMES) | {"failure", "(object)"}
    return {word for text in parser.seen for word in words
            if re.search(rf"(?<![\\w(]){re.escape(word)}(?![\\w)])", text)}


def test_vietnamese_record_and_audit_pages_show_outcomes_and_event_types_in_vietnamese(auditor):
    client, aips = auditor
    broken = aips[1].identifier
    pages = {url: client.get(url) for url in (
        f"/aips/{broken}", "/audit/fixity", "/audit/fixity?outcome=size+changed",
        f"/audit/fixity/{broken}")}
    for url, page in pages.items():
        assert page.status_code == 200, url
        html = page.get_data(as_text=True)
        assert '<html lang="vi"' in html
        assert not _english_vocabulary_seen(html), (url, _english_vocabulary_seen(html))
    record = pages[f"/aips/{broken}"].get_data(as_text=True)
    assert "<td>nhập kho</td>" in record and "<td>kiểm tra toàn vẹn</td>" in record
    assert ">thất bại</span>" in record
    # The same pages in English say it in English (the words are translated, not lost).
    client.get("/language/en?next=/")
    english = client.get(f"/audit/fixity/{broken}").get_data(as_text=True)
    assert ">size changed</span>" in english and ">failure</span>" in english
