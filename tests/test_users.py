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
    result = runner.invoke(kho, ["user", "add", "Phạm Thị D", "--role", "archivist"],
                           env={"KHO_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    with catalog.session() as session:
        assert authenticate(session, token).name == "Phạm Thị D"

    listed = runner.invoke(kho, ["user", "list"], env={"KHO_DATABASE_URL": url})
    assert "Phạm Thị D\tarchivist" in listed.output and token not in listed.output

    bad_role = runner.invoke(kho, ["user", "add", "e", "--role", "king"],
                             env={"KHO_DATABASE_URL": url})
    assert bad_role.exit_code == 2

    removed = runner.invoke(kho, ["user", "remove", "Phạm Thị D"], env={"KHO_DATABASE_URL": url})
    assert removed.exit_code == 0
    missing = runner.invoke(kho, ["user", "remove", "Phạm Thị D"], env={"KHO_DATABASE_URL": url})
    assert missing.exit_code == 2 and "no user" in missing.output
