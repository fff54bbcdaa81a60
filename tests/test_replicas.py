"""Replicas in two real locations (the local folder and SeaweedFS): ingest writes and
verifies both, `kho replicate` re-makes a lost one, `kho repair` mends a damaged copy from
the other and refuses when no copy passes."""
from __future__ import annotations

import io
import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from repository.catalog import Aip, PremisEvent, add_user, open_catalog
from repository.catalog.chain_store import CHAIN_HEAD_KEY
from repository.catalog.copies import copy_status
from repository.catalog.rebuild import rebuild_catalog
from repository.catalog.models import AipCopy
from repository.cli import kho
from repository.errors import ConfigurationError
from repository.fixity import check_aips
from repository.ingest.amend import amend_aip
from repository.ingest.pipeline import ingest_package
from repository.storage import get_location
from repository.storage.replicas import load_policy
from repository.web import create_app
from tests.fixtures.aips import add_collections, make_page_bag
from tests.fixtures.web import PASSWORD, sign_in
from tests.test_fixity_cli_and_alerts import WebhookSink

PAGE = "v1/content/data/trang 2.jpg"
POLICY = '[default]\nlocations = ["local", "s3"]\n\n[collections."Báo chí"]\nlocations = ["local"]\n'


def read(storage, key: str) -> bytes:
    with storage.open(key) as stream:
        return stream.read()


def put(storage, key: str, data: bytes) -> None:
    storage.put(key, io.BytesIO(data), algorithms=())


@pytest.fixture
def replicated(settings, tmp_path, s3_location):
    """One AIP ingested into "local" under a policy that wants it in "local" and "s3"."""
    folder = settings.storage_config_dir
    (folder / "replication.toml").write_text(POLICY, encoding="utf-8")
    hook = WebhookSink()
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    add_collections(catalog, "Hán-Nôm")
    bag = make_page_bag(tmp_path / "bag", pages=3, size=(60, 80))
    result = ingest_package(bag, settings=settings, catalog=catalog, collection="Hán-Nôm",
                            location="local")
    env = {"KHO_DATA_DIR": str(settings.data_dir), "KHO_STORAGE_CONFIG": str(folder),
           "KHO_DATABASE_URL": settings.catalog_url,
           "KHO_ALERT_WEBHOOK": f"http://127.0.0.1:{hook.server_address[1]}/hook"}
    yield result, catalog, env, get_location(settings, "local"), s3_location, hook
    hook.shutdown(), hook.server_close()
    catalog.dispose()


def kho_cli(env, *args):
    return CliRunner().invoke(kho, list(args), env=env, catch_exceptions=False)


def copies(catalog, identifier) -> dict[str, tuple[str, int]]:
    with catalog.session() as session:
        aip = session.scalar(select(Aip).where(Aip.identifier == identifier))
        return {c.location: (c.state, c.version) for c in session.scalars(
            select(AipCopy).where(AipCopy.aip_id == aip.id))}


def status(catalog, identifier) -> str:
    with catalog.session() as session:
        aip = session.scalar(select(Aip).where(Aip.identifier == identifier))
        return copy_status(session, aip, ["local", "s3"]).state


def events(catalog, identifier, kind) -> list[tuple[str, str]]:
    with catalog.session() as session:
        return [(e.outcome, e.detail) for e in session.scalars(select(PremisEvent).where(
            PremisEvent.aip_identifier == identifier, PremisEvent.event_type == kind)
            .order_by(PremisEvent.id))]


def test_policy_file_errors_name_the_file_and_no_file_keeps_one_copy(settings, tmp_path):
    assert load_policy(settings) is None  # no replication.toml: behaviour as before
    settings.storage_config_dir.mkdir(parents=True, exist_ok=True)
    path = settings.storage_config_dir / "replication.toml"
    for text, words in (('[default]\nlocations = ["local", "offsite"]\n', "unknown location"),
                        ('[default]\nlocations = []\n', "non-empty list"),
                        ('[other]\nx = 1\n', "unexpected top-level"),
                        ('[collections."Hán Nôm"]\nlocations = ["local"]\n', "[default]")):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigurationError, match=words) as caught:
            load_policy(settings)
        assert str(path) in str(caught.value)
    # Collection names are matched NFC, whatever form the file was typed in.
    path.write_text('[default]\nlocations = ["local"]\n[collections."Ha\u0301n No\u0302m"]\n'
                    'locations = ["local"]\n', encoding="utf-8")
    assert load_policy(settings).locations_for("Hán Nôm") == ("local",)
    # A policy naming a location that does not exist: ingest stores nothing and says where.
    path.write_text('[default]\nlocations = ["local", "offsite"]\n', encoding="utf-8")
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    add_collections(catalog, "Hán-Nôm")
    with pytest.raises(ConfigurationError, match="offsite"):
        ingest_package(make_page_bag(tmp_path / "bag", pages=1, size=(40, 50)),
                       settings=settings, catalog=catalog, collection="Hán-Nôm")
    with catalog.session() as session:
        assert session.scalars(select(Aip)).all() == []
    local = get_location(settings, "local")
    assert [k for k in local.list("") if not k.startswith(("extensions/", "0=", "ocfl_"))] == []
    catalog.dispose()


def test_two_folders_a_collection_override_and_replicate_to_one_location(settings, tmp_path):
    # Any two configured locations hold copies, two folders included; a collection's own
    # policy overrides the default; `kho replicate --location` copies to one location,
    # policy or not.
    from repository.storage.locations import location_toml
    folder = settings.storage_config_dir
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("offsite", "vault"):
        (folder / f"{name}.toml").write_text(location_toml(name, {
            "kind": "local", "root": str(tmp_path / f"ổ {name}")}), encoding="utf-8")
    (folder / "replication.toml").write_text(
        '[default]\nlocations = ["local", "offsite"]\n\n'
        '[collections."Báo chí"]\nlocations = ["local"]\n', encoding="utf-8")
    catalog = open_catalog(settings.catalog_url)
    catalog.upgrade()
    try:
        add_collections(catalog, "Hán-Nôm", "Báo chí")
        book = ingest_package(make_page_bag(tmp_path / "a", pages=2, external_id="A"),
                              settings=settings, catalog=catalog, collection="Hán-Nôm")
        paper = ingest_package(make_page_bag(tmp_path / "b", pages=1, external_id="B"),
                               settings=settings, catalog=catalog, collection="Báo chí")
        local, offsite, vault = (get_location(settings, n) for n in ("local", "offsite", "vault"))
        assert copies(catalog, book.identifier) == {"local": ("verified", 1),
                                                    "offsite": ("verified", 1)}
        page = f"{book.object_root}/v1/content/data/trang 1.jpg"
        assert read(offsite, page) == read(local, page)
        assert copies(catalog, paper.identifier) == {"local": ("verified", 1)}
        assert not list(offsite.list(f"{paper.object_root}/"))  # the override: one copy

        env = {"KHO_DATA_DIR": str(settings.data_dir), "KHO_STORAGE_CONFIG": str(folder),
               "KHO_DATABASE_URL": settings.catalog_url}
        done = json.loads(kho_cli(env, "replicate", "--all", "--location", "vault",
                                  "--json").output)
        assert sorted(c["aip"] for c in done["copies"]) == sorted(
            [book.identifier, paper.identifier])
        assert all(c["state"] == "verified" and c["location"] == "vault"
                   for c in done["copies"])
        assert read(vault, page) == read(local, page)
        assert copies(catalog, paper.identifier) == {"local": ("verified", 1),
                                                     "vault": ("verified", 1)}
        assert not list(offsite.list(f"{paper.object_root}/"))  # --location: vault only
        checked = check_aips(get_settings(env), catalog, [book.identifier])
        assert not checked.failed
        assert sorted(c.location for c in checked.checks) == ["local", "offsite", "vault"]
    finally:
        catalog.dispose()


def test_ingest_writes_and_verifies_both_copies_and_replicate_remakes_a_lost_one(replicated,
                                                                                 tmp_path):
    result, catalog, env, local, s3, _ = replicated
    root = result.object_root
    # Ingest: a verified copy in each location, a replication event for the replica.
    assert copies(catalog, result.identifier) == {"local": ("verified", 1), "s3": ("verified", 1)}
    assert read(s3, f"{root}/{PAGE}") == read(local, f"{root}/{PAGE}")
    assert read(s3, f"{root}/inventory.json") == read(local, f"{root}/inventory.json")
    [(outcome, detail)] = events(catalog, result.identifier, "replication")
    assert outcome == "success" and "copy in s3 at v1" in detail and "verified" in detail
    assert status(catalog, result.identifier) == "safe"
    assert s3.exists(CHAIN_HEAD_KEY)  # the replica holds the event chain too
    # A new version (an access change) reaches the replica too.
    assert amend_aip(get_settings(env), catalog, result.identifier, agent="t",
                     access="restricted") == 2
    assert json.loads(read(s3, f"{root}/inventory.json"))["head"] == "v2"
    assert copies(catalog, result.identifier)["s3"] == ("verified", 2)
    # The replica is lost entirely: fixity sees it, the AIP is no longer shown as safe.
    s3.delete_prefix(f"{root}/")
    summary = check_aips(get_settings(env), catalog, [result.identifier])
    assert {c.location: c.outcome for c in summary.checks} == {"local": "success",
                                                               "s3": "failure"}
    assert copies(catalog, result.identifier)["s3"][0] == "failed"
    assert status(catalog, result.identifier) == "not safe"
    # `kho replicate --all` re-makes it, verified; running it again changes nothing.
    run = kho_cli(env, "replicate", "--all")
    assert run.exit_code == 0, run.output
    assert "VERIFIED" in run.output and "v2" in run.output
    assert copies(catalog, result.identifier)["s3"] == ("verified", 2)
    assert status(catalog, result.identifier) == "safe"
    again = kho_cli(env, "replicate", "--all", "--json")
    assert again.exit_code == 0 and json.loads(again.output)["copies"] == []
    # Resumable: a copy interrupted before its root inventory is finished, not started over.
    s3.delete(f"{root}/inventory.json")
    s3.delete(f"{root}/{PAGE}")
    garbled = read(local, f"{root}/v1/content/data/trang 1.jpg")  # right size, wrong bytes
    put(s3, f"{root}/v1/content/data/trang 1.jpg", bytes([garbled[0] ^ 1]) + garbled[1:])
    with catalog.session() as session:
        for row in session.scalars(select(AipCopy).where(AipCopy.location == "s3")):
            row.state = "pending"
    resumed = json.loads(kho_cli(env, "replicate", "--aip", result.identifier, "--json").output)
    [copy] = resumed["copies"]
    assert copy["state"] == "verified" and copy["files_copied"] == 2
    assert read(s3, f"{root}/v1/content/data/trang 1.jpg") == garbled
    assert check_aips(get_settings(env), catalog, [result.identifier]).failed is False
    verify = kho_cli(env, "audit", "verify")  # every replication event is in the stored chain
    assert verify.exit_code == 0, verify.output
    # A catalogue rebuilt from storage finds one AIP with two copies, unproven until checked.
    rebuilt_env = {**env, "KHO_DATABASE_URL": f"sqlite:///{tmp_path / 'rebuilt.db'}"}
    rebuilt = open_catalog(rebuilt_env["KHO_DATABASE_URL"])
    rebuilt.upgrade()
    report = rebuild_catalog(get_settings(rebuilt_env), rebuilt)
    assert report.aips == 1 and not report.problems
    assert copies(rebuilt, result.identifier) == {"local": ("pending", 2), "s3": ("pending", 2)}
    assert not check_aips(get_settings(rebuilt_env), rebuilt, [result.identifier]).failed
    assert copies(rebuilt, result.identifier) == {"local": ("verified", 2),
                                                  "s3": ("verified", 2)}
    rebuilt.dispose()


def test_a_rotted_source_file_is_never_left_in_the_replica(replicated):
    # The replica is proven by reading it back; a source file whose bytes no longer match
    # its inventory (same size, one bit flipped) fails that proof, and what was written of
    # it is removed: the replica holds no uncommitted bad bytes and the AIP is not safe.
    result, catalog, env, local, s3, _ = replicated
    root = result.object_root
    s3.delete_prefix(f"{root}/")
    with catalog.session() as session:  # as a fixity check of the lost replica would leave it
        for row in session.scalars(select(AipCopy).where(AipCopy.location == "s3")):
            row.state = "failed"
    good = read(local, f"{root}/{PAGE}")
    put(local, f"{root}/{PAGE}", good[:-1] + bytes([good[-1] ^ 1]))
    run = kho_cli(env, "replicate", "--aip", result.identifier, "--json")
    [copy] = json.loads(run.output)["copies"]
    assert copy["state"] == "failed" and "trang 2.jpg" in copy["detail"], copy
    # Read back with the fastest strong digest the inventory records, as fixity checks.
    from repository.storage.digests import fastest_strong_algorithms
    fastest = next(a for a in fastest_strong_algorithms() if a in ("sha256", "sha512"))
    assert f": {fastest} expected " in copy["detail"], copy["detail"]
    assert not s3.exists(f"{root}/{PAGE}")
    assert not s3.exists(f"{root}/inventory.json")  # never a complete-looking object
    assert status(catalog, result.identifier) == "not safe"
    put(local, f"{root}/{PAGE}", good)  # mended: the next run finishes the copy
    [copy] = json.loads(kho_cli(env, "replicate", "--aip", result.identifier,
                                "--json").output)["copies"]
    assert copy["state"] == "verified" and read(s3, f"{root}/{PAGE}") == good
    assert status(catalog, result.identifier) == "safe"


def get_settings(env):
    from repository.config import load_settings
    return load_settings(env)


DAMAGES = ("changed", "missing", "truncated", "inventory altered")


def held(local, s3, root: str) -> dict[str, dict[str, bytes]]:
    """Each copy's object and quarantine, key by key (the event journal may grow meanwhile)."""
    return {s.name: {k: read(s, k) for prefix in (f"{root}/", "extensions/kho-quarantine/")
                     for k in s.list(prefix)} for s in (local, s3)}


def damage(storage, root: str, how: str) -> str:
    """Damage one copy; returns the key that was damaged."""
    if how == "inventory altered":
        key = f"{root}/inventory.json"
        data = json.loads(read(storage, key))
        data["versions"]["v1"]["message"] = "rewritten history"
        put(storage, key, json.dumps(data).encode())
        return key
    key = f"{root}/{PAGE}"
    original = read(storage, key)
    if how == "changed":
        put(storage, key, bytes([original[0] ^ 0xFF]) + original[1:])
    elif how == "truncated":
        put(storage, key, original[:100])
    else:
        storage.delete(key)
    return key


def test_a_damaged_copy_is_repaired_from_the_other_and_both_damaged_changes_nothing(replicated):
    result, catalog, env, local, s3, hook = replicated
    root = result.object_root
    good = {key: read(local, key) for key in (f"{root}/{PAGE}", f"{root}/inventory.json")}
    for n, how in enumerate(DAMAGES):
        bad, other = (local, s3) if n % 2 else (s3, local)
        key = damage(bad, root, how)
        damaged = read(bad, key) if bad.exists(key) else None
        if how == "truncated":  # automatic when the setting allows it
            summary = check_aips(get_settings(env).replace(fixity_auto_repair=True), catalog,
                                 [result.identifier])
            [repair] = summary.repairs
            assert repair.outcome == "repaired" and repair.source == other.name
        else:
            run = kho_cli(env, "repair", result.identifier, "--json")
            assert run.exit_code == 0, run.output
            repair = json.loads(run.output)
            assert repair["outcome"] == "repaired" and repair["source"] == other.name
            assert repair["rechecks"] == {bad.name: "success"}
        # The good bytes are back, proven by a fresh check of every copy.
        assert read(bad, key) == good[key], how
        assert not check_aips(get_settings(env), catalog, [result.identifier]).failed
        # The bad file was moved aside, never deleted.
        quarantined = [k for k in bad.list("extensions/kho-quarantine/") if k.endswith(key)]
        if damaged is not None:
            assert any(read(bad, k) == damaged for k in quarantined), how
        else:
            assert not quarantined
    recoveries = events(catalog, result.identifier, "recovery")
    assert len(recoveries) == len(DAMAGES) and {o for o, _ in recoveries} == {"success"}
    assert len(events(catalog, result.identifier, "quarantine")) == 3  # nothing to move if missing
    checks = events(catalog, result.identifier, "fixity check")
    assert ("failure" in {o for o, _ in checks}) and checks[-1][0] == "success"
    # Both copies damaged: an alert, and nothing is touched.
    damage(local, root, "changed")
    damage(s3, root, "truncated")
    before = held(local, s3, root)
    run = kho_cli(env, "repair", result.identifier)
    assert run.exit_code == 1 and "NOT REPAIRED" in run.output
    assert held(local, s3, root) == before  # every byte of both copies and their quarantines
    assert len(read(s3, f"{root}/{PAGE}")) == 100
    assert any(p.get("kind") == "repair impossible" for p in hook.posts)
    assert status(catalog, result.identifier) == "not safe"
    checked = kho_cli(env, "fixity", "run", "--aip", result.identifier)
    assert checked.exit_code == 1  # the summary counts the AIP once, not once per bad copy
    assert "1 AIPs checked (2 copies), " in checked.output and ", 1 AIPs failed, " in checked.output
    # Never shown as safe: the API, the record page, the auditor's pages and the report.
    app = create_app(get_settings(env))
    client = app.test_client()
    shown = client.get(f"/api/v1/aips/{result.identifier}").get_json()["copies"]
    assert shown["state"] == "not safe"
    assert {c["location"]: c["state"] for c in shown["copies"]} == {"local": "failed",
                                                                     "s3": "failed"}
    assert "Chưa an toàn" in client.get(f"/aips/{result.identifier}").get_data(as_text=True)
    with app.extensions["kho"].catalog.session() as session:
        add_user(session, "u-auditor", "auditor", password=PASSWORD)
    sign_in(client, "u-auditor")
    board = client.get("/audit/fixity").get_data(as_text=True)
    assert "Bản sao theo nơi lưu trữ" in board and "Bản sao chưa được kiểm chứng (2)" in board
    history = client.get(f"/audit/fixity/{result.identifier}").get_data(as_text=True)
    assert "Chưa an toàn" in history and "thất bại" in history
    report = json.loads(kho_cli(env, "fixity", "report", "--format", "json").output)
    assert set(report["per_location"]) == {"local", "s3"}
    assert report["per_location"]["s3"]["failure"] >= 2
    assert {c["location"] for c in report["unverified_copies"]} == {"local", "s3"}
    assert "Copies in s3:" in kho_cli(env, "fixity", "report").output
