"""Users, roles and API tokens: only a hash is stored, a token finds its user."""
from __future__ import annotations

import hashlib

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from repository.catalog import User, add_user, authenticate, list_users, remove_user, reset_token
from repository.cli import kho
from repository.errors import NotFound, UsageError


def test_token_finds_its_user_and_only_its_hash_is_stored(catalog):
    with catalog.session() as session:
        user, token = add_user(session, "Lê Văn C", "archivist")
    assert token.startswith("kho_") and len(token) > 40
    with catalog.session() as session:
        stored = session.scalars(select(User)).one()
        assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert token not in (stored.token_hash, stored.name)
        found = authenticate(session, token)
        assert found is not None and found.name == "Lê Văn C" and found.role == "archivist"


def test_wrong_missing_or_inactive_token_finds_nobody(catalog):
    with catalog.session() as session:
        user, token = add_user(session, "reader", "researcher")
        assert authenticate(session, token[:-1] + ("a" if token[-1] != "a" else "b")) is None
        assert authenticate(session, "") is None and authenticate(session, None) is None
        user.active = False
        session.flush()
        assert authenticate(session, token) is None


def test_unknown_role_and_duplicate_name_are_refused(catalog):
    with catalog.session() as session:
        with pytest.raises(UsageError, match="role"):
            add_user(session, "x", "superuser")
        add_user(session, "auditor1", "auditor")
        with pytest.raises(UsageError, match="already exists"):
            add_user(session, "auditor1", "admin")


def test_removed_user_and_replaced_token_stop_working(catalog):
    with catalog.session() as session:
        _, old = add_user(session, "admin1", "admin")
        _, gone = add_user(session, "temp", "researcher")
    with catalog.session() as session:
        new = reset_token(session, "admin1")
        remove_user(session, "temp")
    with catalog.session() as session:
        assert authenticate(session, old) is None and authenticate(session, gone) is None
        assert authenticate(session, new).name == "admin1"
        assert [u.name for u in list_users(session)] == ["admin1"]
        with pytest.raises(NotFound):
            remove_user(session, "temp")


def test_kho_user_add_prints_the_token_on_the_last_line(catalog):
    url = catalog.engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    result = runner.invoke(kho, ["user", "add", "Phạm Thị D", "--role", "archivist",
                                 "--no-password"], env={"KHO_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    with catalog.session() as session:
        assert authenticate(session, token).name == "Phạm Thị D"

    listed = runner.invoke(kho, ["user", "list"], env={"KHO_DATABASE_URL": url})
    assert "Phạm Thị D\tarchivist" in listed.output and token not in listed.output

    bad_role = runner.invoke(kho, ["user", "add", "e", "--role", "king", "--no-password"],
                             env={"KHO_DATABASE_URL": url})
    assert bad_role.exit_code == 2

    removed = runner.invoke(kho, ["user", "remove", "Phạm Thị D"], env={"KHO_DATABASE_URL": url})
    assert removed.exit_code == 0
    missing = runner.invoke(kho, ["user", "remove", "Phạm Thị D"], env={"KHO_DATABASE_URL": url})
    assert missing.exit_code == 2 and "no user" in missing.output


def test_kho_user_add_and_passwd_set_a_password_that_signs_in(catalog):
    from repository.catalog import sign_in
    url = catalog.engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    added = runner.invoke(kho, ["user", "add", "Trần Văn E", "--role", "auditor",
                                "--password-stdin"], input="mật khẩu kiểm toán\n",
                          env={"KHO_DATABASE_URL": url})
    assert added.exit_code == 0, added.output
    limits = dict(max_failures=5, lock_seconds=60)
    with catalog.session() as session:
        stored = session.scalars(select(User)).one()
        assert "mật khẩu" not in stored.password_hash and stored.password_hash.startswith("scrypt")
        assert sign_in(session, "Trần Văn E", "mật khẩu kiểm toán", **limits).user is not None
    # Prompted twice when not on stdin; the old password stops working.
    changed = runner.invoke(kho, ["user", "passwd", "Trần Văn E"],
                            input="một mật khẩu khác\nmột mật khẩu khác\n",
                            env={"KHO_DATABASE_URL": url})
    assert changed.exit_code == 0, changed.output
    with catalog.session() as session:
        assert sign_in(session, "Trần Văn E", "mật khẩu kiểm toán", **limits).user is None
        assert sign_in(session, "Trần Văn E", "một mật khẩu khác", **limits).user is not None
    short = runner.invoke(kho, ["user", "passwd", "Trần Văn E", "--password-stdin"],
                          input="ngắn\n", env={"KHO_DATABASE_URL": url})
    assert short.exit_code != 0 and "at least 10" in short.output


def test_repeated_wrong_passwords_lock_the_account_even_against_the_right_one(catalog):
    from datetime import datetime, timedelta, timezone
    from repository.catalog import sign_in
    now = datetime(2026, 11, 25, 8, 0, tzinfo=timezone.utc)
    limits = dict(max_failures=3, lock_seconds=600)
    with catalog.session() as session:
        add_user(session, "lan", "archivist", password="đúng mật khẩu rồi")
        for _ in range(3):
            assert sign_in(session, "lan", "sai rồi", now=now, **limits).user is None
        locked = sign_in(session, "lan", "đúng mật khẩu rồi", now=now, **limits)
        assert locked.user is None and locked.locked_until == now + timedelta(seconds=600)
        later = now + timedelta(seconds=601)
        assert sign_in(session, "lan", "đúng mật khẩu rồi", now=later, **limits).user is not None
        # A password typed in NFD (another keyboard) is the same password.
        import unicodedata
        nfd = unicodedata.normalize("NFD", "đúng mật khẩu rồi")
        assert sign_in(session, "lan", nfd, now=later, **limits).user is not None
