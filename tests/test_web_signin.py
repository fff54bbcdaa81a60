"""Signing in to the web pages: password, session cookie flags, CSRF on every form, sign
out, lock-out, and sessions that end when an admin acts."""
from __future__ import annotations

import pytest

from repository.catalog import add_user, set_active
from repository.web import create_app
from tests.fixtures.web import PASSWORD, csrf_token, sign_in


@pytest.fixture
def app(kho_settings):
    app = create_app(kho_settings.replace(sign_in_max_failures=3))
    with app.extensions["kho"].catalog.session() as session:
        add_user(session, "Nguyễn Thị Lan", "archivist", password=PASSWORD)
        add_user(session, "quản trị", "admin", password=PASSWORD)
    yield app
    app.extensions["kho"].catalog.dispose()


def test_session_cookie_is_httponly_samesite_lax_and_secure_behind_https(app):
    client = app.test_client()
    response = sign_in(client, "Nguyễn Thị Lan")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("kho_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    assert PASSWORD not in cookie
    secure = app.test_client()
    page = secure.get("/signin", base_url="https://kho.example").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    over_https = secure.post("/signin", base_url="https://kho.example", headers={
        "Referer": "https://kho.example/signin"}, data={
        "name": "Nguyễn Thị Lan", "password": PASSWORD, "csrf_token": token})
    cookie = next(c for c in over_https.headers.getlist("Set-Cookie")
                  if c.startswith("kho_session="))
    assert over_https.status_code == 303 and "Secure" in cookie


def test_a_form_posted_without_its_csrf_token_is_refused(app):
    client = app.test_client()
    refused = client.post("/signin", data={"name": "Nguyễn Thị Lan", "password": PASSWORD})
    assert refused.status_code == 400 and "CSRF" in refused.get_data(as_text=True)
    sign_in(client, "quản trị")
    forged = client.post("/admin/users", data={"action": "create", "name": "kẻ lạ",
                                               "role": "admin", "password": "x" * 12})
    assert forged.status_code == 400
    assert "kẻ lạ" not in client.get("/admin/users").get_data(as_text=True)
    forged_signout = client.post("/signout")
    assert forged_signout.status_code == 400
    assert client.get("/admin/users").status_code == 200  # still signed in


def test_sign_in_sign_out_and_wrong_password(app):
    client = app.test_client()
    assert client.get("/deposit").status_code == 401
    wrong = client.post("/signin", data={"name": "Nguyễn Thị Lan", "password": "sai mật khẩu",
                                         "csrf_token": csrf_token(client)})
    assert wrong.status_code == 401
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in wrong.get_data(as_text=True)
    sign_in(client, "Nguyễn Thị Lan")
    page = client.get("/deposit").get_data(as_text=True)
    assert "Nguyễn Thị Lan" in page and "Đăng xuất" in page
    out = client.post("/signout", data={"csrf_token": csrf_token(client, "/deposit")})
    assert out.status_code == 303
    assert client.get("/deposit").status_code == 401


def test_repeated_failures_lock_the_account_and_the_page_says_until_when(app):
    client = app.test_client()
    for _ in range(3):
        client.post("/signin", data={"name": "Nguyễn Thị Lan", "password": "sai mật khẩu",
                                     "csrf_token": csrf_token(client)})
    locked = client.post("/signin", data={"name": "Nguyễn Thị Lan", "password": PASSWORD,
                                          "csrf_token": csrf_token(client)})
    assert locked.status_code == 401 and "bị khoá đến" in locked.get_data(as_text=True)


def test_disabling_a_user_ends_their_open_session(app):
    client = app.test_client()
    sign_in(client, "Nguyễn Thị Lan")
    assert client.get("/deposit").status_code == 200
    with app.extensions["kho"].catalog.session() as session:
        set_active(session, "Nguyễn Thị Lan", False)
    assert client.get("/deposit").status_code == 401


def test_sign_in_goes_back_only_to_a_page_of_this_site(app):
    client = app.test_client()
    response = client.post("/signin", data={
        "name": "Nguyễn Thị Lan", "password": PASSWORD, "csrf_token": csrf_token(client),
        "next": "https://evil.example/"})
    assert response.status_code == 303 and "evil" not in response.headers["Location"]
    again = app.test_client()
    response = again.post("/signin", data={
        "name": "Nguyễn Thị Lan", "password": PASSWORD, "csrf_token": csrf_token(again),
        "next": "/deposits"})
    assert response.headers["Location"].endswith("/deposits")


def test_admin_creates_a_user_who_then_signs_in(app):
    admin = app.test_client()
    sign_in(admin, "quản trị")
    created = admin.post("/admin/users", data={
        "action": "create", "name": "Lê Văn Kiểm", "role": "auditor",
        "password": "kiểm toán viên mới", "csrf_token": csrf_token(admin, "/admin/users")})
    assert created.status_code == 303
    assert "Lê Văn Kiểm" in admin.get("/admin/users").get_data(as_text=True)
    auditor = app.test_client()
    sign_in(auditor, "Lê Văn Kiểm", "kiểm toán viên mới")
    assert auditor.get("/audit/fixity").status_code == 200
    assert auditor.get("/admin/users").status_code == 403
