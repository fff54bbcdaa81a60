"""The admin's collections page: create, title and description, access, delete an empty one,
each through a CSRF-protected form, refusals shown on the page in the reader's language."""
from __future__ import annotations

import unicodedata
from datetime import date

import pytest

from repository.catalog import add_user
from repository.catalog.collections import require_collection
from repository.catalog.models import Collection, PremisEvent
from repository.web import create_app
from tests.fixtures.aips import make_page_bag
from tests.fixtures.web import PASSWORD, csrf_token, sign_in

PAGE = "/admin/collections"
NAME = "Địa bạ Quảng Ngãi"


@pytest.fixture
def app(kho_settings):
    app = create_app(kho_settings)
    with app.extensions["kho"].catalog.session() as session:
        add_user(session, "quản trị", "admin", password=PASSWORD)
        add_user(session, "lưu trữ viên", "archivist", password=PASSWORD)
    yield app
    app.extensions["kho"].catalog.dispose()


@pytest.fixture
def admin(app):
    client = app.test_client()
    sign_in(client, "quản trị")
    return client


def _post(client, **form):
    return client.post(PAGE, data={"csrf_token": csrf_token(client, PAGE), **form})


def _collections(app) -> dict[str, Collection]:
    with app.extensions["kho"].catalog.session() as session:
        found = {c.name: c for c in session.query(Collection)}
        session.expunge_all()
        return found


def test_admin_creates_a_collection_and_an_nfd_name_is_stored_and_shown_in_nfc(app, admin):
    decomposed = unicodedata.normalize("NFD", NAME)
    assert decomposed != NAME
    created = _post(admin, action="create", name=decomposed, title="Sổ địa bạ triều Nguyễn",
                    description=unicodedata.normalize("NFD", "Địa bạ các xã, lập năm 1814."),
                    access="restricted")
    assert created.status_code == 303
    stored = _collections(app)
    assert list(stored) == [NAME]
    assert stored[NAME].title == "Sổ địa bạ triều Nguyễn"
    assert stored[NAME].description == "Địa bạ các xã, lập năm 1814."
    assert stored[NAME].access == "restricted"
    page = admin.get(PAGE).get_data(as_text=True)
    assert f"Đã tạo sưu tập {NAME}." in page and "Sổ địa bạ triều Nguyễn" in page
    # The new collection is one deposits can now name.
    with app.extensions["kho"].catalog.session() as session:
        assert require_collection(session, decomposed).name == NAME


def test_a_duplicate_or_nameless_collection_is_refused_on_the_page_and_nothing_is_written(
        app, admin):
    assert _post(admin, action="create", name=NAME, access="public").status_code == 303
    again = _post(admin, action="create", name=unicodedata.normalize("NFD", NAME),
                  title="Bản sao", access="public")
    text = again.get_data(as_text=True)
    assert again.status_code == 409
    assert f"Đã có một sưu tập tên {NAME}." in text
    assert 'value="Bản sao"' in text  # what the admin typed is still in the form
    nameless = _post(admin, action="create", name="   ", access="public")
    assert nameless.status_code == 400
    assert "Sưu tập cần có tên." in nameless.get_data(as_text=True)
    too_long = _post(admin, action="create", name="Đ" * 201, access="public")
    assert too_long.status_code == 400
    assert "Tên sưu tập dài tối đa 200 ký tự" in too_long.get_data(as_text=True)
    no_level = _post(admin, action="create", name="Hương ước", access="mở")
    assert no_level.status_code == 400
    assert "Quyền truy cập phải là công khai" in no_level.get_data(as_text=True)
    english = app.test_client()
    english.set_cookie("kho_lang", "en")
    sign_in(english, "quản trị")
    no_date = _post(english, action="create", name="Hương ước", access="embargoed")
    assert no_date.status_code == 400
    assert "Choose the date the embargo ends." in no_date.get_data(as_text=True)
    bad_date = _post(english, action="create", name="Hương ước", access="embargoed",
                     embargo_until="2030-02-31")
    assert bad_date.status_code == 400
    assert "The embargo's end date is not a date (YYYY-MM-DD)." in bad_date.get_data(
        as_text=True).replace("&#39;", "'")
    assert list(_collections(app)) == [NAME]


def test_admin_changes_title_and_description_but_the_name_stays(app, admin):
    _post(admin, action="create", name=NAME, access="public")
    changed = _post(admin, action="rename", name=NAME, title="Địa bạ Quảng Ngãi (1814)",
                    description=unicodedata.normalize("NFD", "Bản chụp từ Cục Lưu trữ."))
    assert changed.status_code == 303
    stored = _collections(app)[NAME]
    assert stored.title == "Địa bạ Quảng Ngãi (1814)"
    assert stored.description == "Bản chụp từ Cục Lưu trữ."
    empty = _post(admin, action="rename", name=NAME, title=" ", description="mất")
    assert empty.status_code == 400
    assert "Nhan đề của sưu tập không được để trống." in empty.get_data(as_text=True)
    assert _collections(app)[NAME].description == "Bản chụp từ Cục Lưu trữ."
    unknown = _post(admin, action="rename", name="Dia ba", title="x")
    assert unknown.status_code == 404
    assert "Không có sưu tập nào tên Dia ba." in unknown.get_data(as_text=True)


def test_admin_embargoes_a_collection_until_a_date_and_the_change_is_an_event(app, admin):
    _post(admin, action="create", name=NAME, access="public")
    embargoed = _post(admin, action="access", name=NAME, access="embargoed",
                      embargo_until="2031-01-01")
    assert embargoed.status_code == 303
    stored = _collections(app)[NAME]
    assert (stored.access, stored.embargo_until) == ("embargoed", date(2031, 1, 1))
    page = admin.get(PAGE).get_data(as_text=True)
    assert f"Đã đổi quyền truy cập sưu tập {NAME}." in page and 'value="2031-01-01"' in page
    with app.extensions["kho"].catalog.session() as session:
        details = [e.detail for e in session.query(PremisEvent)
                   if e.event_type == "policy assignment"]
    assert f"access of collection {NAME} changed from public to embargoed:2031-01-01" in details
    # A reader now gets the collection refused, as the API's own change would do.
    assert app.test_client().get(f"/iiif/3/collection/{NAME}").status_code in (401, 403)
    opened = _post(admin, action="access", name=NAME, access="public", embargo_until="")
    assert opened.status_code == 303 and _collections(app)[NAME].access == "public"


def test_only_an_empty_collection_is_deleted_and_a_full_one_is_refused_clearly(
        app, admin, ingest_bag, tmp_path):
    _post(admin, action="create", name=NAME, access="public")
    _post(admin, action="create", name="Hương ước", access="public")
    ingest_bag(make_page_bag(tmp_path / "bag", pages=1), collection=NAME)
    refused = _post(admin, action="delete", name=NAME)
    assert refused.status_code == 409
    assert f"Sưu tập {NAME} vẫn còn 1 AIP; chỉ xoá được sưu tập rỗng." in refused.get_data(
        as_text=True)
    deleted = _post(admin, action="delete", name="Hương ước")
    assert deleted.status_code == 303
    assert list(_collections(app)) == [NAME]
    assert "Đã xoá sưu tập Hương ước." in admin.get(PAGE).get_data(as_text=True)


def test_the_collection_forms_need_their_csrf_token_and_an_admin(app, admin):
    forged = admin.post(PAGE, data={"action": "create", "name": "Giả mạo"})
    assert forged.status_code == 400
    archivist = app.test_client()
    sign_in(archivist, "lưu trữ viên")
    assert archivist.get(PAGE).status_code == 403
    refused = archivist.post(PAGE, data={"action": "create", "name": "Giả mạo",
                                         "csrf_token": csrf_token(archivist, "/deposit")})
    assert refused.status_code == 403
    assert _collections(app) == {}
