"""The one storage interface behaves the same on a local folder and on S3 (SeaweedFS)."""
from __future__ import annotations

import hashlib
import io
import os
import tracemalloc

import pytest

from repository.errors import DigestMismatch, NotFound, StorageError
from repository.storage import LocalStorage

MIB = 1024 * 1024


def _put(storage, key, data, **kw):
    return storage.put(key, io.BytesIO(data), **kw)


def test_put_returns_size_and_every_requested_digest(storage_location):
    data = "Địa bạ triều Nguyễn".encode() * 100
    result = _put(storage_location, "aip/data/địa bạ.txt", data, algorithms=("sha512", "md5", "sha256"))
    assert result.size == len(data)
    assert result.digests == {"sha512": hashlib.sha512(data).hexdigest(),
                              "md5": hashlib.md5(data).hexdigest(),
                              "sha256": hashlib.sha256(data).hexdigest()}
    with storage_location.open("aip/data/địa bạ.txt") as stream:
        assert stream.read() == data
    assert storage_location.head("aip/data/địa bạ.txt").size == len(data)


def test_put_with_wrong_expected_digest_leaves_nothing(storage_location):
    data = b"trang mot " * 1000
    with pytest.raises(DigestMismatch) as caught:
        _put(storage_location, "aip/bad.tif", data,
             expected={"sha256": hashlib.sha256(b"other").hexdigest()})
    assert caught.value.algorithm == "sha256"
    assert not storage_location.exists("aip/bad.tif")
    assert list(storage_location.list("aip/")) == []
    if isinstance(storage_location, LocalStorage):  # not even the staging temp file
        assert [p for p in storage_location.root.rglob("*") if p.is_file()] == []


def test_put_with_matching_expected_digest_in_bagit_spelling_is_accepted(storage_location):
    data = b"hello"
    result = _put(storage_location, "ok.txt", data, expected={"SHA-256": hashlib.sha256(data).hexdigest()})
    assert result.digests["sha256"] == hashlib.sha256(data).hexdigest()


def test_byte_ranges_are_inclusive_and_clamped_at_the_end(storage_location):
    data = bytes(range(256)) * 40
    _put(storage_location, "range.bin", data)
    with storage_location.open("range.bin", start=10, end=19) as stream:
        assert stream.read() == data[10:20]
    with storage_location.open("range.bin", start=len(data) - 5) as stream:
        assert stream.read() == data[-5:]
    with storage_location.open("range.bin", start=100, end=10**9) as stream:
        assert stream.read() == data[100:]
    assert b"".join(storage_location.iter_chunks("range.bin", start=0, end=0)) == data[:1]
    with pytest.raises(StorageError):
        storage_location.open("range.bin", start=len(data) + 10)


def test_vietnamese_keys_are_stored_nfc_and_listed(storage_location):
    decomposed = "Ghi chu\u0301/Hue\u0302\u0301.txt"  # NFD input
    _put(storage_location, decomposed, b"x")
    assert list(storage_location.list("Ghi")) == ["Ghi chú/Huế.txt"]
    assert storage_location.exists("Ghi chú/Huế.txt")


@pytest.mark.parametrize("key", ["/etc/passwd", "../x", "a/../../x", "a//b", "", "a/./b"])
def test_unsafe_keys_are_refused(storage_location, key):
    with pytest.raises(StorageError):
        _put(storage_location, key, b"x")


def test_head_and_open_of_missing_key_raise_not_found(storage_location):
    with pytest.raises(NotFound):
        storage_location.head("nothing/here")
    with pytest.raises(NotFound):
        storage_location.open("nothing/here")
    storage_location.delete("nothing/here")  # absent is not an error


def test_list_copy_delete_and_delete_prefix(storage_location):
    for key in ("o/a.txt", "o/b/c.txt", "p/d.txt"):
        _put(storage_location, key, key.encode())
    assert sorted(storage_location.list("o/")) == ["o/a.txt", "o/b/c.txt"]
    storage_location.copy("o/a.txt", "p/copy of a.txt")
    with storage_location.open("p/copy of a.txt") as stream:
        assert stream.read() == b"o/a.txt"
    storage_location.delete("o/a.txt")
    assert not storage_location.exists("o/a.txt")
    assert storage_location.delete_prefix("p/") == 2
    assert sorted(storage_location.list()) == ["o/b/c.txt"]


def test_location_is_reachable(storage_location):
    storage_location.check_reachable()


def test_large_stream_goes_up_in_parts_with_flat_memory(storage_location):
    """11 MiB with 5 MiB parts on S3 (3 parts); memory stays about one part."""
    if storage_location.kind == "s3":
        storage_location.part_size = 5 * MIB
    data = os.urandom(11 * MIB)
    want = hashlib.sha256(data).hexdigest()
    source = io.BytesIO(data)
    storage_location.check_reachable()  # the S3 client's models load outside the measurement
    tracemalloc.start()
    try:
        result = storage_location.put("big/scan.tif", source, size=len(data),
                                      algorithms=("sha512",), expected={"sha256": want})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.size == len(data)
    print(f"peak traced memory for an 11 MiB put on {storage_location.kind}: {peak / MIB:.1f} MiB")
    assert peak < 3 * 5 * MIB  # about two parts at most, never the whole file
    assert storage_location.head("big/scan.tif").size == len(data)
    if storage_location.kind == "s3":
        assert storage_location.head("big/scan.tif").etag.endswith("-3")  # a multipart ETag
    digest = hashlib.sha256()
    for chunk in storage_location.iter_chunks("big/scan.tif"):
        digest.update(chunk)
    assert digest.hexdigest() == want


def test_multipart_upload_with_wrong_digest_is_never_completed(storage_location):
    if storage_location.kind == "s3":
        storage_location.part_size = 5 * MIB
    data = os.urandom(6 * MIB)
    with pytest.raises(DigestMismatch):
        storage_location.put("big/bad.tif", io.BytesIO(data), expected={"md5": "0" * 32})
    assert list(storage_location.list("big/")) == []
    if storage_location.kind == "s3":
        uploads = storage_location.client.list_multipart_uploads(Bucket=storage_location.bucket)
        assert not uploads.get("Uploads")


def test_local_put_of_a_file_stores_and_hashes_exactly_what_is_left_to_read(tmp_path):
    """A file not yet read from is copied in the kernel and hashed from the copy; one read
    part-way, a pipe-like stream and an unbuffered file all store just what they have left."""
    storage = LocalStorage("local", tmp_path / "store")
    data = os.urandom(3 * MIB + 123)  # several chunks and a partial one
    source = tmp_path / "trang 1.tif"
    source.write_bytes(data)
    with open(source, "rb") as whole:
        result = storage.put("a/whole.tif", whole, size=len(data),
                             expected={"sha512": hashlib.sha512(data).hexdigest()})
    assert result.digests["sha512"] == hashlib.sha512(data).hexdigest()
    assert (storage.root / "a" / "whole.tif").read_bytes() == data
    with open(source, "rb") as partly:
        partly.read(1000)
        rest = storage.put("a/rest.tif", partly, algorithms=("sha256",))
    assert (storage.root / "a" / "rest.tif").read_bytes() == data[1000:]
    assert rest.digests["sha256"] == hashlib.sha256(data[1000:]).hexdigest()
    with open(source, "rb", buffering=0) as raw:
        assert storage.put("a/raw.tif", raw).size == len(data)
    with pytest.raises(DigestMismatch):
        with open(source, "rb") as whole:
            storage.put("a/bad.tif", whole, expected={"sha512": "0" * 128})
    assert not (storage.root / "a" / "bad.tif").exists()
    assert sorted(p.name for p in (storage.root / "a").iterdir()) == ["raw.tif", "rest.tif",
                                                                    "whole.tif"]


@pytest.mark.parametrize("data, problem", [
    (b"{not json", "is not valid JSON"),
    (b"\xff\xfe", "is not valid JSON"),
    (b'{"type": "kho:other", "version": 1}', "is not a Kho fixity history"),
    (b'["kho:fixity-history"]', "is not a Kho fixity history"),
    (b'{"type": "kho:fixity-history", "version": 2}', "is a version 2 fixity history; this Kho "
                                                        "reads up to version 1"),
])
def test_a_stored_record_kho_cannot_read_is_refused_naming_location_and_key(tmp_path, data,
                                                                            problem):
    """Collection records, journal segments and fixity histories are read by one parser that
    refuses (never misreads) a damaged, foreign or newer record."""
    from repository.storage.records import parse_record
    storage = LocalStorage("local", tmp_path)
    key = "extensions/kho-fixity/ab.json"
    read = lambda raw: parse_record(storage, key, raw, record_type="kho:fixity-history",  # noqa: E731
                                    version=1, what="fixity history")
    with pytest.raises(StorageError) as refused:
        read(data)
    assert str(refused.value).startswith(f"local: {key} ") and problem in str(refused.value)
    assert read(b'{"type": "kho:fixity-history", "version": 1, "checks": []}')["checks"] == []
