"""S3 going away: Kho says "unavailable" (not "corrupt") and leaves nothing that looks complete."""
from __future__ import annotations

import io
import os
from datetime import timedelta

import pytest

from repository.errors import StorageUnavailable
from repository.storage import OcflStore, S3Storage, SourceFile
from tests.fixtures.s3 import free_ports

MIB = 1024 * 1024


class KillingStream(io.RawIOBase):
    """Random bytes that kill the S3 server once ``kill_after`` bytes have been read."""

    def __init__(self, size: int, kill_after: int, server):
        self.left, self.kill_after, self.server, self.done = size, kill_after, server, 0

    def readable(self):
        return True

    def read(self, n=-1):
        n = self.left if n < 0 else min(n, self.left)
        if self.done >= self.kill_after and self.server.process is not None:
            self.server.kill()
        data = os.urandom(n)
        self.left -= n
        self.done += n
        return data


def test_unreachable_endpoint_raises_storage_unavailable():
    [port] = free_ports(1)
    storage = S3Storage("down", "kho", endpoint_url=f"http://127.0.0.1:{port}",
                        access_key="k", secret_key="s", connect_timeout=1, max_attempts=1)
    with pytest.raises(StorageUnavailable):
        storage.check_reachable()
    with pytest.raises(StorageUnavailable):
        storage.put("a.txt", io.BytesIO(b"a"))
    with pytest.raises(StorageUnavailable):
        storage.open("a.txt")
    with pytest.raises(StorageUnavailable):
        list(storage.list())


def test_missing_bucket_is_unavailable_not_missing_object(s3_server):
    with pytest.raises(StorageUnavailable, match="does not exist"):
        s3_server.storage("kho-no-such-bucket").check_reachable()


def test_server_killed_mid_upload_raises_unavailable_and_gc_leaves_nothing(fresh_s3_server):
    server = fresh_s3_server
    bucket = server.new_bucket()
    storage = server.storage(bucket, part_size=5 * MIB, connect_timeout=1, read_timeout=5,
                             max_attempts=2)
    store = OcflStore(storage)
    store.create_object("urn:kho:aip:done", [SourceFile("a.txt", lambda: io.BytesIO(b"a"))],
                        message="m", user_name="u")
    files = [SourceFile("data/Trang 1.tif", lambda: io.BytesIO(b"first page")),
             SourceFile("data/Trang 2 – lớn.tif", lambda: KillingStream(12 * MIB, 6 * MIB, server))]
    with pytest.raises(StorageUnavailable):
        store.create_object("urn:kho:aip:interrupted", files, message="m", user_name="u")

    server.start()
    server.wait_readable(bucket, f"{store.object_root('urn:kho:aip:done')}/inventory.json")
    root = store.object_root("urn:kho:aip:interrupted")
    assert list(store.list_objects()) == ["urn:kho:aip:done"]  # never seen as complete
    assert list(storage.list(root)), "the first page should be left behind by the crash"
    removed = store.collect_garbage(timedelta(0))
    assert [item.prefix for item in removed] == [f"{root}/"]
    assert list(storage.list(root)) == []
    assert store.incomplete_objects() == []
    assert not storage.client.list_multipart_uploads(Bucket=bucket).get("Uploads")
    assert list(store.list_objects()) == ["urn:kho:aip:done"]
    with store.open_file("urn:kho:aip:done", "a.txt") as stream:
        assert stream.read() == b"a"
