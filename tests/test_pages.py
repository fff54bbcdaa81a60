"""The researchers' pages: holdings listed with their diacritics, found without them, facets
and collection combined with the words, a record page with citations and downloads."""
from __future__ import annotations

import io
import re
import zipfile

import pytest

from repository.web import create_app
from tests.fixtures.aips import TITLE_VI, make_page_bag


@pytest.fixture
def client(kho_settings):
    app = create_app(kho_settings)
    yield app.test_client()
    app.extensions["kho"].catalog.dispose()


def test_home_lists_titles_with_diacritics_and_search_ignores_them(client, ingest_bag, tmp_path):
    ingest_bag(make_page_bag(tmp_path / "a", pages=1, external_id="A"))
    ingest_bag(make_page_bag(tmp_path / "b", pages=1, title="Báo Tiếng Dân", external_id="B"),
               collection="Báo chí")
    page = client.get("/").get_data(as_text=True)
    assert TITLE_VI in page and "Báo Tiếng Dân" in page
    found = client.get("/search?q=HA NOI").get_data(as_text=True)
    assert TITLE_VI in found and "Báo Tiếng Dân" not in found
    by_collection = client.get("/search?collection=Báo chí").get_data(as_text=True)
    assert "Báo Tiếng Dân" in by_collection and TITLE_VI not in by_collection


def test_words_and_collection_combine_and_facets_count_what_matches(client, ingest_bag, tmp_path):
    ingest_bag(make_page_bag(tmp_path / "a", pages=1, external_id="A"))
    ingest_bag(make_page_bag(tmp_path / "b", pages=1, title="Đại Nam nhất thống chí",
                             external_id="B"), collection="Địa chí")
    ingest_bag(make_page_bag(tmp_path / "c", pages=1, title="Báo Tiếng Dân", external_id="C"),
               collection="Địa chí")
    # Every bag carries the English title "Veritable Records of Đại Nam".
    both = client.get("/search?q=veritable&collection=Địa chí").get_data(as_text=True)
    assert "Đại Nam nhất thống chí" in both and "Báo Tiếng Dân" in both and TITLE_VI not in both
    narrower = client.get("/search?q=nhat thong&collection=Địa chí").get_data(as_text=True)
    assert "Đại Nam nhất thống chí" in narrower and "Báo Tiếng Dân" not in narrower
    words = client.get("/search?q=veritable").get_data(as_text=True)
    # Facet links keep the words; the collection facet counts each collection's matches.
    assert 'href="/search?q=veritable&amp;collection=%C4%90%E1%BB%8Ba+ch%C3%AD">Địa chí</a> ' \
        '<span class="muted">(2)</span>' in words
    assert ">Hán-Nôm</a> <span class=\"muted\">(1)</span>" in words and "1840s" in words


def test_restricted_aip_is_hidden_from_anonymous_visitors_and_not_counted(client, ingest_bag,
                                                                          tmp_path):
    result = ingest_bag(make_page_bag(tmp_path / "a", pages=1), access="restricted")
    assert TITLE_VI not in client.get("/").get_data(as_text=True)
    listing = client.get("/search").get_data(as_text=True)
    assert TITLE_VI not in listing and "(0)" in listing
    page = client.get(f"/aips/{result.identifier}")
    assert page.status_code == 401 and page.mimetype == "text/html"
    assert "/signin?next=" in page.get_data(as_text=True)  # the error page offers to sign in


def test_aip_page_shows_description_files_events_citations_and_highwire_tags(client, ingest_bag,
                                                                             tmp_path):
    result = ingest_bag(make_page_bag(tmp_path / "a", pages=2))
    page = client.get(f"/aips/{result.identifier}").get_data(as_text=True)
    assert '<span lang="vi">Quốc sử quán triều Nguyễn</span>' in page
    assert '<span lang="en">Veritable Records of Đại Nam</span>' in page  # every language
    assert "data/trang 2.jpg" in page and "fmt/" in page
    assert "<td>nhận dạng định dạng</td>" in page and f"/view/{result.identifier}" in page
    assert '<meta name="citation_title" content="Đại Nam thực lục – Hà Nội">' in page
    assert '<meta name="citation_author" content="Quốc sử quán triều Nguyễn">' in page
    assert "Quốc sử quán triều Nguyễn. (1844–1909). <i>Đại Nam thực lục – Hà Nội</i>" in page
    assert "[Tài liệu số hoá]" in page and "[Digitised item]" in page  # APA in vi and en
    assert "?manifest=" in page and "iiif-logo.svg" in page
    ris = client.get(f"/aips/{result.identifier}/cite.ris")
    assert ris.headers["Content-Disposition"].startswith("attachment")
    text = ris.get_data(as_text=True)
    assert "TI  - Đại Nam thực lục – Hà Nội\r\n" in text and "PY  - 1844" in text
    bib = client.get(f"/aips/{result.identifier}/cite.bib").get_data(as_text=True)
    assert bib.startswith("@misc{") and "author = {{Quốc sử quán triều Nguyễn}}" in bib


def test_whole_item_zip_holds_every_file_byte_for_byte(client, ingest_bag, tmp_path):
    bag = make_page_bag(tmp_path / "a", pages=3)
    result = ingest_bag(bag)
    response = client.get(f"/aips/{result.identifier}/download.zip")
    assert response.status_code == 200 and response.is_streamed
    assert int(response.headers["Content-Length"]) == len(response.data)
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    for n in (1, 2, 3):
        assert archive.read(f"{result.identifier}/trang {n}.jpg") == \
            (bag / "data" / f"trang {n}.jpg").read_bytes()


def test_pages_speak_vietnamese_until_the_reader_switches_to_english(client, ingest_bag,
                                                                     tmp_path):
    ingest_bag(make_page_bag(tmp_path / "a", pages=1))
    page = client.get("/").get_data(as_text=True)
    assert '<html lang="vi">' in page and "Tài liệu mới nhất" in page
    switched = client.get("/language/en?next=/search")
    assert switched.status_code == 303 and switched.headers["Location"].endswith("/search")
    assert "kho_lang=en" in switched.headers["Set-Cookie"]
    english = client.get("/").get_data(as_text=True)
    assert '<html lang="en">' in english and "Newest additions" in english
    # Only this site's paths are followed after switching (no open redirect).
    away = client.get("/language/vi?next=//evil.example/x")
    assert away.headers["Location"].endswith("/") and "evil" not in away.headers["Location"]


def test_error_pages_are_html_in_the_readers_language_and_the_api_keeps_json(client):
    page = client.get("/aips/no-such-aip")
    assert page.status_code == 404 and "Không tìm thấy" in page.get_data(as_text=True)
    client.get("/language/en")
    assert "Not found" in client.get("/aips/no-such-aip").get_data(as_text=True)
    api = client.get("/api/v1/aips/no-such-aip")
    assert api.status_code == 404 and api.get_json()["error"] == "NotFound"


def test_forbidden_and_server_error_pages_are_html_in_the_readers_language(kho_settings):
    from repository.catalog import add_user
    from tests.fixtures.web import PASSWORD, sign_in
    app = create_app(kho_settings)

    @app.get("/hỏng")  # a page that breaks as a bug would; the handler is the app's own
    def broken():
        raise RuntimeError("secret detail /var/lib/kho")
    with app.extensions["kho"].catalog.session() as session:
        add_user(session, "lưu trữ viên", "archivist", password=PASSWORD)
        reader_token = add_user(session, "bạn đọc", "researcher")[1]
    client = app.test_client()
    sign_in(client, "lưu trữ viên")
    for language, forbidden, failed in (
            ("vi", "Bạn không được xem nội dung này", "Đã có lỗi"),
            ("en", "You may not see this", "Something went wrong")):
        client.get(f"/language/{language}")
        page = client.get("/admin/users")
        assert page.status_code == 403 and page.mimetype == "text/html"
        text = page.get_data(as_text=True)
        assert f'<html lang="{language}">' in text and forbidden in text
        page = client.get("/hỏng")
        assert page.status_code == 500 and page.mimetype == "text/html"
        text = page.get_data(as_text=True)
        assert f'<html lang="{language}">' in text and failed in text
        assert "secret detail" not in text  # a bug's message is for the log, not the reader
    api = app.test_client().get("/api/v1/holdings/report",
                                headers={"Authorization": f"Bearer {reader_token}"})
    assert api.status_code == 403 and api.get_json()["error"] == "PermissionDenied"
    app.extensions["kho"].catalog.dispose()


def test_record_page_cites_in_chicago_in_vietnamese_and_english(client, ingest_bag, tmp_path):
    from babel.dates import format_date
    from datetime import date
    result = ingest_bag(make_page_bag(tmp_path / "a", pages=1))
    url = f"http://localhost/aips/{result.identifier}"
    today = {language: format_date(date.today(), "long", locale=language)
             for language in ("vi", "en")}
    chicago = {
        "vi": f'<blockquote lang="vi">Quốc sử quán triều Nguyễn. <i>{TITLE_VI}</i>. Thư viện tỉnh, '
              f'1844–1909. Truy cập ngày {today["vi"]}. {url}.</blockquote>',
        "en": f'<blockquote lang="en">Quốc sử quán triều Nguyễn. <i>{TITLE_VI}</i>. Thư viện tỉnh, '
              f'1844–1909. Accessed {today["en"]}. {url}.</blockquote>'}
    for page_language in ("vi", "en"):  # both citations on either page, each in its language
        client.get(f"/language/{page_language}")
        page = client.get(f"/aips/{result.identifier}").get_data(as_text=True)
        assert chicago["vi"] in page and chicago["en"] in page


def test_results_sort_by_title_or_newest_and_page_keeping_the_order(client, ingest_bag,
                                                                     tmp_path, monkeypatch):
    from repository.web import pages
    monkeypatch.setattr(pages, "PER_PAGE", 2)  # three AIPs make two pages
    for n, title in enumerate(("Hương ước làng Đông Ngạc", "Báo Tiếng Dân", TITLE_VI)):
        ingest_bag(make_page_bag(tmp_path / str(n), pages=1, title=title, external_id=f"S-{n}"))

    def titles(url: str) -> list[str]:
        page = client.get(url).get_data(as_text=True)
        results = page[page.index('<ol class="results"'):page.index("</ol>")]
        return re.findall(r'<h3><a href="/aips/[^"]+">([^<]+)</a></h3>', results)
    # By title the way a Vietnamese reader sorts: Đ after D, before H.
    assert titles("/search?sort=title") == ["Báo Tiếng Dân", TITLE_VI]
    assert titles("/search?sort=title&page=2") == ["Hương ước làng Đông Ngạc"]
    assert titles("/search?sort=newest") == [TITLE_VI, "Báo Tiếng Dân"]
    assert titles("/search?sort=newest&page=2") == ["Hương ước làng Đông Ngạc"]
    page = client.get("/search?sort=newest").get_data(as_text=True)
    assert 'href="/search?sort=newest&amp;page=2" rel="next"' in page
    assert '<option value="newest" selected>' in page


def test_whole_item_pdf_has_the_description_then_every_page_in_order(client, ingest_bag,
                                                                      tmp_path):
    from pypdf import PdfReader
    result = ingest_bag(make_page_bag(tmp_path / "a", pages=3, size=(300, 400)))
    response = client.get(f"/aips/{result.identifier}/download.pdf")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(response.data), strict=True)
    assert len(reader.pages) == 4  # the description, then trang 1, 2, 3
    assert reader.metadata.title == TITLE_VI
    assert reader.metadata.author == "Quốc sử quán triều Nguyễn"
    sizes = [(float(p.mediabox.width), float(p.mediabox.height)) for p in reader.pages]
    assert sizes[1:] == [(144.0, 192.0)] * 3  # 300×400 px at 150 dpi
    images = [p.images[0] for p in reader.pages]
    assert all(i.data.startswith(b"\xff\xd8") for i in images)  # JPEGs, embedded as they are
    shades = [i.image.getpixel((150, 55))[0] for i in images[1:]]  # between two lines
    assert shades[0] > shades[1] > shades[2]  # the fixture darkens each later page
