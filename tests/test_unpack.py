"""Archives are unpacked only into private staging, hostile ones refused, staging removed."""
from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from repository.errors import UnsafeArchive, UsageError
from repository.ingest import unpacked, validate_path
from tests.fixtures.bags import make_bag, tar_folder, zip_folder


def _staging_is_empty(settings) -> bool:
    return not settings.staging_dir.exists() or not any(settings.staging_dir.iterdir())


def _tar_with(dest: Path, member: tarfile.TarInfo, data: bytes = b"") -> Path:
    with tarfile.open(dest, "w") as tf:
        tf.addfile(member, io.BytesIO(data) if data else None)
    return dest


@pytest.mark.parametrize("suffix", [".zip", ".tar", ".tar.gz", ".tgz"])
def test_archived_bag_validates_and_staging_is_removed(tmp_path, settings, suffix):
    bag = make_bag(tmp_path / "Địa bạ Phú Chiêm")
    archive = tmp_path / f"deposit{suffix}"
    (zip_folder if suffix == ".zip" else tar_folder)(bag, archive)
    seen = []
    with unpacked(archive, settings) as root:
        seen.append(root)
        assert (root / "bagit.txt").is_file() and root.name == "Địa bạ Phú Chiêm"
        staging = root.parent
        assert stat.S_IMODE(staging.stat().st_mode) == 0o700
        assert staging.parent == settings.staging_dir
    assert not seen[0].exists() and _staging_is_empty(settings)
    result = validate_path(archive, settings=settings, processes=1)
    assert result.report.valid, result.report.errors
    assert _staging_is_empty(settings)


def test_bag_at_the_top_of_the_archive_is_its_own_root(tmp_path, settings):
    archive = zip_folder(make_bag(tmp_path / "bag"), tmp_path / "flat.zip", top="")
    with unpacked(archive, settings) as root:
        assert (root / "bagit.txt").is_file() and root.parent == settings.staging_dir


def test_staging_is_removed_when_validation_fails(tmp_path, settings):
    bag = make_bag(tmp_path / "bag")
    (bag / "data" / "extra.txt").write_text("not in manifest")
    result = validate_path(zip_folder(bag, tmp_path / "bad.zip"), settings=settings,
                           processes=1)
    assert not result.report.valid and _staging_is_empty(settings)


def test_unknown_archive_type_and_missing_path_are_usage_errors(tmp_path, settings):
    odd = tmp_path / "bag.rar"
    odd.write_bytes(b"Rar!")
    with pytest.raises(UsageError):
        with unpacked(odd, settings):
            pass
    with pytest.raises(UsageError):
        with unpacked(tmp_path / "nowhere.zip", settings):
            pass
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK not really")
    with pytest.raises(UsageError):
        validate_path(broken, settings=settings)


@pytest.mark.parametrize("name", ["/tmp/kho-escape.txt", "../kho-escape.txt",
                                  "bag/../../kho-escape.txt", "..\\kho-escape.txt"])
def test_zip_entries_leaving_staging_are_refused(tmp_path, settings, name):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("bag/bagit.txt", "BagIt-Version: 1.0\n")
        zf.writestr(name, "escaped")
    with pytest.raises(UnsafeArchive) as info:
        with unpacked(archive, settings):
            pass
    assert info.value.code == "K701"
    assert not Path("/tmp/kho-escape.txt").exists()
    assert not (tmp_path / "kho-escape.txt").exists()
    assert not (settings.data_dir / "kho-escape.txt").exists()
    assert _staging_is_empty(settings)


def test_zip_symlink_entry_is_refused(tmp_path, settings):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        info = zipfile.ZipInfo("bag/data/passwd")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(UnsafeArchive, match="symbolic link"):
        with unpacked(archive, settings):
            pass
    assert _staging_is_empty(settings)


@pytest.mark.parametrize("kind,extra", [
    (tarfile.SYMTYPE, {"linkname": "/etc/passwd"}),
    (tarfile.LNKTYPE, {"linkname": "bag/bagit.txt"}),
    (tarfile.CHRTYPE, {"devmajor": 1, "devminor": 3}),
    (tarfile.BLKTYPE, {"devmajor": 8, "devminor": 0}),
    (tarfile.FIFOTYPE, {}),
])
def test_tar_links_devices_and_fifos_are_refused(tmp_path, settings, kind, extra):
    member = tarfile.TarInfo("bag/data/thing")
    member.type = kind
    for key, value in extra.items():
        setattr(member, key, value)
    archive = _tar_with(tmp_path / "evil.tar", member)
    with pytest.raises(UnsafeArchive) as info:
        with unpacked(archive, settings):
            pass
    assert info.value.code == "K706"
    assert _staging_is_empty(settings)


def test_tar_absolute_and_dotdot_names_are_refused(tmp_path, settings):
    for name in ("/tmp/kho-tar-escape", "../kho-tar-escape"):
        member = tarfile.TarInfo(name)
        member.size = 3
        archive = _tar_with(tmp_path / "evil.tar", member, b"bad")
        with pytest.raises(UnsafeArchive):
            with unpacked(archive, settings):
                pass
    assert not Path("/tmp/kho-tar-escape").exists()
    assert not (tmp_path / "kho-tar-escape").exists()


def test_zip_bomb_is_stopped_at_the_ratio_cap_after_reading_little(tmp_path, settings):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("bag/data/zeros.bin", "w", force_zip64=True) as out:
            block = bytes(1024 * 1024)
            for _ in range(64):          # 64 MiB of zeros, about 64 KiB packed
                out.write(block)
    settings = settings.replace(unpack_max_ratio=20.0)
    with pytest.raises(UnsafeArchive) as info:
        with unpacked(archive, settings):
            pass
    assert info.value.code == "K705"
    assert _staging_is_empty(settings)


def test_zip_bomb_with_lying_headers_stops_at_the_byte_cap(tmp_path, settings):
    archive = tmp_path / "liar.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("bag/data/big.bin", bytes(3 * 1024 * 1024))
    settings = settings.replace(unpack_max_bytes=2 * 1024 * 1024)
    with pytest.raises(UnsafeArchive) as info:
        with unpacked(archive, settings):
            pass
    assert info.value.code == "K704"


def test_too_many_entries_and_duplicate_entries_are_refused(tmp_path, settings):
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(20):
            zf.writestr(f"bag/data/{i}.txt", "x")
    with pytest.raises(UnsafeArchive, match="more than 10 entries"):
        with unpacked(archive, settings.replace(unpack_max_entries=10)):
            pass
    twice = tmp_path / "twice.tar"
    with tarfile.open(twice, "w") as tf:
        for data in (b"one", b"two"):
            member = tarfile.TarInfo("bag/data/page.txt")
            member.size = len(data)
            tf.addfile(member, io.BytesIO(data))
    with pytest.raises(UnsafeArchive, match="twice"):
        with unpacked(twice, settings):
            pass
    assert _staging_is_empty(settings)


def test_entry_under_a_name_that_is_already_a_file_is_refused_cleanly(tmp_path, settings):
    archive = tmp_path / "clash.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("bag/data/page", "a file")
        zf.writestr("bag/data/page/inside.txt", "under a file")
    with pytest.raises(UnsafeArchive) as info:
        with unpacked(archive, settings):
            pass
    assert info.value.code == "K707" and _staging_is_empty(settings)
