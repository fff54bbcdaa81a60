"""S3Storage: a storage location in an S3 bucket (AWS, MinIO, SeaweedFS), through boto3.

Large streams go up as multipart uploads, one part in memory at a time. Every request
carries a CRC32 checksum so the server refuses bytes damaged in transit; the digests
Kho needs are computed in the same pass and checked before the object becomes visible
(a single PUT is only sent after the check; a multipart upload is only completed after it).
"""
from __future__ import annotations

import base64
import contextlib
import io
import zlib
from datetime import datetime
from typing import Any, BinaryIO, Iterator, Mapping

import boto3
import botocore.exceptions as bx
from botocore.config import Config

from repository.errors import NotFound, StorageError, StorageUnavailable

from .base import CHUNK_SIZE, ObjectInfo, PutResult, Storage, check_key
from .digests import MultiHasher, algorithms_for, check_expected

MIB = 1024 * 1024
DEFAULT_PART_SIZE = 16 * MIB
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_UNAVAILABLE = {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout",
                "NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}


class S3Storage(Storage):
    """Objects live in ``bucket`` under ``prefix``; a key is the part after the prefix."""

    kind = "s3"

    def __init__(self, name: str, bucket: str, *, prefix: str = "", endpoint_url: str | None = None,
                 region: str = "us-east-1", addressing_style: str = "path",
                 access_key: str | None = None, secret_key: str | None = None,
                 session_token: str | None = None, profile: str | None = None,
                 part_size: int = DEFAULT_PART_SIZE, connect_timeout: float = 5.0,
                 read_timeout: float = 60.0, max_attempts: int = 3):
        if addressing_style not in ("path", "virtual", "auto"):
            raise StorageError(f"{name}: addressing_style must be path or virtual")
        if part_size < MIB:
            raise StorageError(f"{name}: part_size must be at least 1 MiB")
        self.name = name
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.endpoint_url = endpoint_url or None
        self.region = region
        self.part_size = part_size
        self._session_args = {"aws_access_key_id": access_key, "aws_secret_access_key": secret_key,
                              "aws_session_token": session_token, "profile_name": profile,
                              "region_name": region}
        # Retries: botocore "standard" mode retries throttling, 5xx and connection errors
        # with backoff; short connect timeout so a down endpoint is reported quickly.
        self._config = Config(
            retries={"mode": "standard", "max_attempts": max_attempts},
            connect_timeout=connect_timeout, read_timeout=read_timeout,
            s3={"addressing_style": addressing_style},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required")
        self._client: Any = None

    def __repr__(self) -> str:
        return f"S3Storage({self.name!r}, {self.describe()!r})"

    def describe(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}"
        return f"{where} at {self.endpoint_url}" if self.endpoint_url else where

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                session = boto3.session.Session(**self._session_args)
            except bx.ProfileNotFound as exc:
                raise StorageUnavailable(f"{self.name}: {exc}") from exc
            self._client = session.client("s3", endpoint_url=self.endpoint_url, config=self._config)
        return self._client

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    @contextlib.contextmanager
    def _errors(self, key: str = ""):
        """Turn botocore's exceptions into Kho's typed errors."""
        what = f"{self.name}: {key}" if key else self.name
        try:
            yield
        except bx.ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            if code in _NOT_FOUND or (status == 404 and code != "NoSuchBucket"):
                raise NotFound(f"{what}: no such object") from exc
            if code in _UNAVAILABLE or status >= 500:
                raise StorageUnavailable(f"{what}: {code} {error.get('Message', '')}".rstrip()) from exc
            raise StorageError(f"{what}: {code} {error.get('Message', '')}".rstrip()) from exc
        except (bx.ConnectionError, bx.HTTPClientError) as exc:
            raise StorageUnavailable(f"{what}: {exc}") from exc
        except (bx.NoCredentialsError, bx.PartialCredentialsError, bx.ProfileNotFound) as exc:
            raise StorageUnavailable(f"{what}: {exc}") from exc
        except bx.BotoCoreError as exc:
            raise StorageError(f"{what}: {exc}") from exc

    def _read_part(self, stream: BinaryIO, hasher: MultiHasher) -> bytes:
        """Up to part_size bytes of ``stream``, hashed as they pass (b"" at the end)."""
        chunks, size = [], 0
        while size < self.part_size:
            chunk = stream.read(min(CHUNK_SIZE, self.part_size - size))
            if not chunk:
                break
            hasher.update(chunk)
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)

    def put(self, key: str, stream: BinaryIO, *, size: int | None = None,
            algorithms: tuple[str, ...] = ("sha512",),
            expected: Mapping[str, str] | None = None, durable: bool = True) -> PutResult:
        key = check_key(key)
        s3key = self._key(key)
        hasher = MultiHasher(algorithms_for(algorithms, expected))
        part = self._read_part(stream, hasher)
        if len(part) < self.part_size:
            self._verify(key, size, hasher, expected)
            with self._errors(key):
                self.client.put_object(Bucket=self.bucket, Key=s3key, Body=part,
                                       ChecksumCRC32=_b64crc32(part))
            return PutResult(key, hasher.size, hasher.hexdigests())
        with self._errors(key):
            upload_id = self.client.create_multipart_upload(
                Bucket=self.bucket, Key=s3key, ChecksumAlgorithm="CRC32")["UploadId"]
        try:
            parts = []
            number = 1
            while part:
                checksum = _b64crc32(part)
                with self._errors(key):
                    reply = self.client.upload_part(
                        Bucket=self.bucket, Key=s3key, UploadId=upload_id, PartNumber=number,
                        Body=part, ChecksumCRC32=checksum)
                parts.append({"ETag": reply["ETag"], "PartNumber": number,
                              "ChecksumCRC32": reply.get("ChecksumCRC32") or checksum})
                number += 1
                part = b""  # let the sent part go before reading the next one
                part = self._read_part(stream, hasher)
            self._verify(key, size, hasher, expected)
            with self._errors(key):
                self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=s3key, UploadId=upload_id,
                    MultipartUpload={"Parts": parts})
        except BaseException:
            # Never completed, so nothing is visible under the key; free the parts if we can.
            with contextlib.suppress(Exception):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=s3key, UploadId=upload_id)
            raise
        return PutResult(key, hasher.size, hasher.hexdigests())

    @staticmethod
    def _verify(key: str, size: int | None, hasher: MultiHasher,
                expected: Mapping[str, str] | None) -> None:
        if size is not None and hasher.size != size:
            raise StorageError(f"{key}: expected {size} bytes, got {hasher.size}")
        check_expected(key, expected, hasher.hexdigests())

    def open(self, key: str, *, start: int | None = None, end: int | None = None) -> BinaryIO:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key)}
        if start is not None or end is not None:
            if (start or 0) < 0 or (end is not None and end < (start or 0)):
                raise StorageError(f"{key}: byte range {start}-{end} not satisfiable")
            args["Range"] = f"bytes={start or 0}-{'' if end is None else end}"
        try:
            with self._errors(key):
                body = self.client.get_object(**args)["Body"]
        except StorageError as exc:
            if "InvalidRange" in str(exc):
                raise StorageError(f"{key}: byte range {start}-{end} not satisfiable") from exc
            raise
        return io.BufferedReader(_BodyReader(body, self, key), CHUNK_SIZE)

    def head(self, key: str) -> ObjectInfo:
        with self._errors(key):
            reply = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        return ObjectInfo(key=check_key(key), size=reply["ContentLength"],
                          etag=reply.get("ETag", "").strip('"'), last_modified=reply["LastModified"])

    def list(self, prefix: str = "") -> Iterator[str]:
        for info in self.list_info(prefix):
            yield info.key

    def list_info(self, prefix: str = "") -> Iterator[ObjectInfo]:
        full = self.prefix + check_key(prefix, prefix=True)
        paginator = self.client.get_paginator("list_objects_v2")
        with self._errors(prefix):
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
                for item in page.get("Contents", ()):
                    yield ObjectInfo(key=item["Key"][len(self.prefix):], size=item["Size"],
                                     etag=item.get("ETag", "").strip('"'),
                                     last_modified=item["LastModified"])

    def copy(self, source_key: str, dest_key: str) -> None:
        with self._errors(source_key):
            self.client.copy_object(Bucket=self.bucket, Key=self._key(dest_key),
                                    CopySource={"Bucket": self.bucket, "Key": self._key(source_key)})

    def delete(self, key: str) -> None:
        with self._errors(key):
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def delete_prefix(self, prefix: str) -> int:
        keys = [self.prefix + k for k in self.list(prefix)]
        for i in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
            batch = [{"Key": k} for k in keys[i:i + 1000]]
            with self._errors(prefix):
                reply = self.client.delete_objects(Bucket=self.bucket,
                                                   Delete={"Objects": batch, "Quiet": True})
            if reply.get("Errors"):
                first = reply["Errors"][0]
                raise StorageError(f"{self.name}: cannot delete {first.get('Key')}: "
                                   f"{first.get('Code')} {first.get('Message', '')}")
        return len(keys)

    def abort_stale_uploads(self, older_than: datetime) -> int:
        """Abort multipart uploads started before ``older_than`` (left when an abort failed)."""
        count = 0
        paginator = self.client.get_paginator("list_multipart_uploads")
        with self._errors():
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for upload in page.get("Uploads", ()):
                    if upload["Initiated"] <= older_than:
                        self.client.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"])
                        count += 1
        return count

    def check_reachable(self) -> None:
        try:
            with self._errors():
                self.client.head_bucket(Bucket=self.bucket)
        except NotFound:
            raise StorageUnavailable(f"{self.name}: bucket {self.bucket!r} does not exist") from None

    def create_bucket(self) -> None:
        """Create the bucket if it does not exist (set-up and tests)."""
        with self._errors():
            try:
                self.client.head_bucket(Bucket=self.bucket)
                return
            except bx.ClientError:
                pass
            if self.region and self.region != "us-east-1":
                self.client.create_bucket(Bucket=self.bucket, CreateBucketConfiguration={
                    "LocationConstraint": self.region})
            else:
                self.client.create_bucket(Bucket=self.bucket)


class _BodyReader(io.RawIOBase):
    """A GET response body whose network errors surface as StorageUnavailable."""

    def __init__(self, body: Any, storage: S3Storage, key: str):
        super().__init__()
        self._body, self._storage, self._key = body, storage, key

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self._body.read(len(buffer))
        except Exception as exc:  # urllib3 and botocore both raise on a cut connection
            raise StorageUnavailable(f"{self._storage.name}: {self._key}: read failed: {exc}") from exc
        n = len(data)
        buffer[:n] = data
        return n

    def close(self) -> None:
        if not self.closed:
            with contextlib.suppress(Exception):
                self._body.close()
        super().close()


def _b64crc32(data: bytes) -> str:
    """The x-amz-checksum-crc32 of ``data``: its CRC32, big-endian, in base64.

    CRC32 (what the AWS SDKs send by default) catches damage in transit; a SHA-256 here
    cost 1.3 CPU seconds per GB beside the sha512 Kho computes anyway, whose comparison
    with the manifest is what proves the bytes (issue 15: S3 ingest vs boto3)."""
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode("ascii")
