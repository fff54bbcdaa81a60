"""The admin's users page (change a role, reset a password, disable and enable, revoke
sessions and the API token), each through its CSRF-protected form and each felt by the user
it changes; and the storage page saying which locations answer now."""
from __future__ import annotations

import pytest

from repository.catalog import add_user
from repository.web import create_app
from tests.fixtures.web import PASSWORD, csrf_token, sign_in

PAGE = "/admin/users"
READER = "Trần Văn Đọc"
NEW_PASSWORD = "mật khẩu mới của Đọc"


@pytest.fixture
def app(kho_settings):
    app = create_app(kho_settings)
    with app.extensions["kho"].catalog.session() as session:
        add_user(session, "quản trị", "admin", password=PASSWORD)
        add_user(session, "lưu trữ viên", "archivist", password=PASSWORD)
        app.reader_token = add_user(session, READER, "researcher", password=PASSWORD)[1]
    yield app
    app.extensions["kho"].catalog.dispose()


@pytest.fixture
def admin(app):
    client = app.test_client()
    sign_in(client, "quản trị")
    return client


@pytest.fixture
def reader(app):
    """The user the admin acts on, signed in in a browser of their own."""
    client = app.test_client()
    sign_in(client, READER)
    return client


def _act(admin, action: str, **form):
    """Post one row's form as the page does; returns the page the admin lands on."""
    done = admin.post(PAGE, data={"csrf_token": csrf_token(admin, PAGE), "action": action,
                                  "name": READER, **form})
    assert done.status_code == 303, done.get_data(as_text=True)[:500]
    return admin.get(done.headers["Location"]).get_data(as_text=True)


def _signs_in(app, password: str) -> bool:
    client = app.test_client()
    answer = client.post("/signin", data={"name": READER, "password": password,
                                          "csrf_token": csrf_token(client), "next": "/"})
    return answer.status_code == 303


def test_admin_changes_a_role_and_the_user_signs_in_again_to_act_in_it(admin, reader):
    assert reader.get("/deposit").status_code == 403  # a researcher does not deposit
    page = _act(admin, "role", role="archivist")
    assert f"Đã đổi vai trò của {READER}." in page
    # A session carries what its user could do when it began: a new role ends it.
    assert reader.get("/deposit").status_code == 401
    sign_in(reader, READER)
    assert reader.get("/deposit").status_code == 200


def test_admin_resets_a_password_the_old_one_stops_and_open_sessions_end(app, admin, reader):
    page = _act(admin, "password", password=NEW_PASSWORD)
    assert f"Đã đặt lại mật khẩu của {READER}" in page
    assert reader.get("/signin?next=/").status_code == 200
    assert READER not in reader.get("/").get_data(as_text=True)  # signed out
    assert not _signs_in(app, PASSWORD)
    assert _signs_in(app, NEW_PASSWORD)


def test_admin_disables_a_user_who_can_no_longer_sign_in_then_enables_them(app, admin, reader):
    page = _act(admin, "disable")
    assert f"Đã khoá tài khoản {READER}." in page and "đã khoá</span>" in page
    assert READER not in reader.get("/").get_data(as_text=True)
    assert not _signs_in(app, PASSWORD)
    assert app.test_client().get("/api/v1/aips", headers={
        "Authorization": f"Bearer {app.reader_token}"}).status_code == 401
    page = _act(admin, "enable")
    assert f"Đã mở lại tài khoản {READER}." in page and "đã khoá</span>" not in page
    assert _signs_in(app, PASSWORD)


def test_admin_revokes_sessions_and_the_api_token(app, admin, reader):
    bearer = {"Authorization": f"Bearer {app.reader_token}"}
    assert app.test_client().get("/api/v1/aips", headers=bearer).status_code == 200
    page = _act(admin, "revoke")
    assert f"Đã thu hồi phiên đăng nhập và token API của {READER}." in page
    assert app.test_client().get("/api/v1/aips", headers=bearer).status_code == 401
    assert READER not in reader.get("/").get_data(as_text=True)
    assert _signs_in(app, PASSWORD)  # the password still works: only credentials issued go


def test_user_actions_need_the_csrf_token_and_an_admin(app, admin):
    forged = admin.post(PAGE, data={"action": "role", "name": READER, "role": "admin"})
    assert forged.status_code == 400
    archivist = app.test_client()
    sign_in(archivist, "lưu trữ viên")
    refused = archivist.post(PAGE, data={"csrf_token": csrf_token(archivist, "/deposit"),
                                         "action": "role", "name": READER, "role": "admin"})
    assert refused.status_code == 403
    page = admin.get(PAGE).get_data(as_text=True)
    row = page[page.index(f"<td>{READER}"):]
    assert '<option value="researcher" selected>' in row[:row.index("</tr>")]


def test_storage_page_shows_which_locations_answer_now(kho_settings, tmp_path):
    # A second location whose folder cannot exist: its root is under a plain file.
    blocker = tmp_path / "không phải thư mục"
    blocker.write_text("tệp", encoding="utf-8")
    folder = kho_settings.storage_config_dir
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "more.toml").write_text(
        f'[locations.local]\nkind = "local"\nroot = "{{data_dir}}/storage"\n\n'
        f'[locations."kho phụ"]\nkind = "local"\nroot = "{blocker}/kho"\n', encoding="utf-8")
    app = create_app(kho_settings)
    with app.extensions["kho"].catalog.session() as session:
        add_user(session, "quản trị", "admin", password=PASSWORD)
    client = app.test_client()
    sign_in(client, "quản trị")
    page = client.get("/admin/storage").get_data(as_text=True)
    body = page[page.index("<tbody>"):page.index("</tbody>")]
    local, other = (next(row for row in body.split("<tr>") if row.startswith(f"<td>{name}"))
                    for name in ("local", "kho phụ"))
    assert "truy cập được" in local and "không truy cập được" not in local
    assert "không truy cập được" in other and "is not writable" in other
    app.extensions["kho"].catalog.dispose()
