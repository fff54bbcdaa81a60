"""Archivists' pages: edit an AIP's Dublin Core and access through forms (each a new OCFL
version with an event, through ingest/amend.py), deposits listed per depositor."""
from __future__ import annotations

import json

import pytest

from repository.catalog import add_user, get_aip
from repository.web import create_app
from tests.fixtures.aips import TITLE_VI, make_page_bag
from tests.fixtures.web import PASSWORD, csrf_token, sign_in


@pytest.fixture
def archivist(kho_settings, ingest_bag, tmp_path):
    app = create_app(kho_settings)
    with app.extensions["kho"].catalog.session() as session:
        add_user(session, "Nguyễn Thị Lan", "archivist", password=PASSWORD)
        add_user(session, "bạn đọc", "researcher", password=PASSWORD)
    result = ingest_bag(make_page_bag(tmp_path / "a", pages=1))
    client = app.test_client()
    sign_in(client, "Nguyễn Thị Lan")
    yield app, client, result.identifier
    app.extensions["kho"].catalog.dispose()


def _form(client, aip: str, rows: list[tuple[str, str, str]]) -> dict:
    return {"csrf_token": csrf_token(client, f"/aips/{aip}/edit"), "change": "dublin_core",
            "element": [r[0] for r in rows], "value": [r[1] for r in rows],
            "lang": [r[2] for r in rows]}


def test_archivist_edits_the_description_with_a_language_per_value_as_a_new_version(archivist):
    app, client, aip = archivist
    page = client.get(f"/aips/{aip}/edit").get_data(as_text=True)
    assert f'value="{TITLE_VI}"' in page
    # NFD input (another keyboard) is stored in NFC.
    import unicodedata
    rows = [("title", unicodedata.normalize("NFD", "Đại Nam thực lục chính biên"), "vi"),
            ("title", "大南寔錄", "vi-Hani"), ("creator", "Quốc sử quán triều Nguyễn", "vi"),
            ("date", "1844/1909", ""), ("type", "Text", ""), ("language", "vi-Hani", ""),
            ("subject", "", "")]  # an empty row is left out
    saved = client.post(f"/aips/{aip}/edit", data=_form(client, aip, rows))
    assert saved.status_code == 303
    with app.extensions["kho"].catalog.session() as session:
        stored = get_aip(session, aip)
        assert stored.current_version == 2
        record = stored.dublin_core.record
    assert record["title"] == [{"value": "Đại Nam thực lục chính biên", "lang": "vi"},
                               {"value": "大南寔錄", "lang": "vi-Hani"}]
    assert "subject" not in record
    shown = client.get(f"/aips/{aip}").get_data(as_text=True)
    assert '<span lang="vi-Hani">大南寔錄</span>' in shown
    assert "<td>sửa đổi siêu dữ liệu</td>" in shown


def test_an_invalid_description_is_refused_naming_the_field_and_nothing_is_written(archivist):
    app, client, aip = archivist
    rows = [("title", "Đại Nam", "vi"), ("date", "năm Tự Đức thứ 3", "")]
    refused = client.post(f"/aips/{aip}/edit", data=_form(client, aip, rows))
    text = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "date" in text and "Mô tả chưa được lưu" in text
    assert 'value="năm Tự Đức thứ 3"' in text  # what was typed is kept in the form
    with app.extensions["kho"].catalog.session() as session:
        assert get_aip(session, aip).current_version == 1


def test_archivist_changes_access_and_readers_are_kept_out_at_once(archivist):
    app, client, aip = archivist
    changed = client.post(f"/aips/{aip}/edit", data={
        "csrf_token": csrf_token(client, f"/aips/{aip}/edit"), "change": "access",
        "access": "embargoed", "embargo_until": "2099-01-01"})
    assert changed.status_code == 303
    reader = app.test_client()
    assert reader.get(f"/aips/{aip}").status_code == 401
    sign_in(reader, "bạn đọc")
    assert reader.get(f"/aips/{aip}").status_code == 403
    assert reader.get(f"/aips/{aip}/edit").status_code == 403  # researchers may not edit


def test_corrected_vietnamese_strings_for_mirador_fix_its_own_mistakes():
    from pathlib import Path
    ours = json.loads((Path(__file__).resolve().parents[1] / "repository" / "web" / "static"
                       / "mirador-strings.json").read_text("utf-8"))["vi"]
    # Mirador's own Vietnamese swaps zoom in and out, reads "right" as "Quyền" (a right,
    # an entitlement) and leaves "Off" untranslated; Kho's strings override those.
    assert (ours["zoomIn"], ours["zoomOut"], ours["right"], ours["off"]) == \
        ("Phóng to", "Thu nhỏ", "Phải", "Tắt")


def test_an_archivist_sees_their_own_deposits_and_an_admin_sees_everyones(archivist):
    from repository.ingest.deposits import create_deposit
    app, client, _ = archivist
    catalog = app.extensions["kho"].catalog
    mine = create_deposit(catalog, source="/staging/uploads/x/địa bạ.zip", collection="Địa bạ",
                          depositor="Nguyễn Thị Lan")
    theirs = create_deposit(catalog, source="/staging/uploads/y/báo.zip", collection="Báo chí",
                            depositor="Trần Văn Minh")
    with catalog.session() as session:
        add_user(session, "quản trị", "admin", password=PASSWORD)
    listing = client.get("/deposits").get_data(as_text=True)
    assert "địa bạ.zip" in listing and "báo.zip" not in listing
    assert client.get(f"/deposits/{mine}").status_code == 200
    assert client.get(f"/deposits/{theirs}").status_code == 403
    admin = app.test_client()
    sign_in(admin, "quản trị")
    everyone = admin.get("/deposits").get_data(as_text=True)
    assert "địa bạ.zip" in everyone and "báo.zip" in everyone and "Trần Văn Minh" in everyone


def test_deposit_form_offers_only_existing_collections_and_refuses_an_unknown_one(
        kho_settings, tmp_path):
    from repository.catalog.collections import add_collection
    from repository.ingest.deposits import list_deposits
    from tests.fixtures.text import make_text_bag
    drop = tmp_path / "drop"
    make_page_bag(drop / "địa bạ", pages=1)
    make_text_bag(drop / "sổ địa bạ", pages={1: ["Sổ địa bạ"]}, tag_files={
        "metadata/transcriptions/trang 1.vi.txt": "Địa bạ xã Phú Chiêm".encode()})
    app = create_app(kho_settings.replace(drop_folder=drop))
    catalog = app.extensions["kho"].catalog
    with catalog.session() as session:
        add_user(session, "Nguyễn Thị Lan", "archivist", password=PASSWORD)
        add_collection(session, "Địa bạ")
    client = app.test_client()
    sign_in(client, "Nguyễn Thị Lan")
    form = client.get("/deposit").get_data(as_text=True)
    assert "Chọn một sưu tập có sẵn; sưu tập mới do quản trị viên tạo." in form
    assert "gõ tên sưu tập mới" not in form  # the form used to promise to create one
    assert '<option value="Địa bạ">' in form
    refused = client.post("/deposit", data={
        "csrf_token": csrf_token(client, "/deposit"), "collection": "Địa bạ Huế",
        "access": "public", "path": "địa bạ"})
    # Refused for its collection (the bag is in the drop folder), as the API refuses it.
    assert refused.status_code == 404 and "Địa bạ Huế" in refused.get_data(as_text=True)
    assert list_deposits(catalog, depositor=None, limit=10, offset=0)[1] == 0  # nothing recorded
    # The same bag into the right collection is stored, and what follows ingest at every
    # door (the text of its pages, here a transcription the bag carries) follows it here too.
    made = client.post("/deposit", data={
        "csrf_token": csrf_token(client, "/deposit"), "collection": "Địa bạ",
        "access": "public", "path": "sổ địa bạ"})
    assert made.status_code == 303
    extras = app.extensions["kho"].extras
    extras["deposit_executor"].shutdown(wait=True)
    extras["text_executor"].shutdown(wait=True)
    found = client.get("/api/v1/search", query_string={"q": "phu chiem"}).get_json()
    assert found["total"] == 1 and found["hits"][0]["page"] == 1, found
    app.extensions["kho"].catalog.dispose()


def test_a_deposit_page_follows_the_bytes_stored_not_a_number_per_step(kho_settings, tmp_path):
    """Issue 10: the percentage a depositor watches moves with the share of the bag stored
    (read from the catalogue while ingest runs, as the page's script reads it), and ends at
    100 on the page."""
    import os
    import threading

    from repository.ingest.deposits import create_deposit, get_deposit, run_deposit
    bag = make_page_bag(tmp_path / "bag", pages=1, extra_files={
        f"data/âm thanh/đoạn {n}.bin": os.urandom(400_000) for n in range(60)})
    app = create_app(kho_settings)
    catalog = app.extensions["kho"].catalog
    with catalog.session() as session:
        add_user(session, "Nguyễn Thị Lan", "archivist", password=PASSWORD)
    from tests.fixtures.aips import add_collections
    add_collections(catalog, "Hán-Nôm")
    deposit = create_deposit(catalog, source=str(bag), collection="Hán-Nôm",
                             depositor="Nguyễn Thị Lan", access="public")
    seen: list[int] = []
    finished = threading.Event()

    def watch():
        while not finished.is_set():
            seen.append(get_deposit(catalog, deposit)["percent"])
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        run_deposit(deposit, bag, settings=kho_settings, catalog=catalog, remove_after=False)
    finally:
        finished.set()
        watcher.join()
    assert get_deposit(catalog, deposit)["status"] == "done"
    assert seen == sorted(seen), "a deposit's percentage never goes back"
    assert any(10 < p < 95 for p in seen), f"no percentage between the steps' marks: {set(seen)}"
    client = app.test_client()
    sign_in(client, "Nguyễn Thị Lan")
    page = client.get(f"/deposits/{deposit}").get_data(as_text=True)
    assert 'value="100"' in page and "100 %" in page
    assert f"Đã lưu thành gói AIP {get_deposit(catalog, deposit)['aip']}." in page
    assert client.get(f"/api/v1/deposits/{deposit}",
                      headers={"Accept": "application/json"}).get_json()["percent"] == 100
    catalog.dispose()
