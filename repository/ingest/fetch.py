"""Fetch a remote file for a holey bag (RFC 8493 §2.2.3) or a BagIt-Profile, safely.

Only ``https`` to hosts whose every address is public; the connection goes to the address
that was checked (no second DNS lookup to rebind); redirects are refused, not followed.
A fetched payload file is streamed to a temporary name, its size and digests checked on
the way, and renamed into place only if everything matches.
"""
from __future__ import annotations

import http.client
import ipaddress
import os
import socket
import ssl
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from repository.errors import KhoError
from repository.bagit.bag import hash_constructor, unsafe_path

CHUNK = 1024 * 1024
TIMEOUT = 30


class FetchRefused(KhoError):
    """A URL Kho will not fetch (not https, not a public host, a redirect, a bad path)."""


class FetchFailed(KhoError):
    """The download went wrong or its size or digest did not match."""


def _public_address(host: str, port: int) -> str:
    """The first address of host, after checking that every address is a public one."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchRefused(f"host '{host}' cannot be resolved ({exc})") from None
    addresses = [info[4][0] for info in infos]
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if getattr(ip, "ipv4_mapped", None):
            ip = ip.ipv4_mapped
        # is_global is False for loopback, private, link-local (169.254.169.254, the cloud
        # metadata service), shared and reserved ranges; multicast is checked apart.
        if not ip.is_global or ip.is_multicast or ip.is_reserved:
            raise FetchRefused(f"host '{host}' resolves to {ip}, which is not a public address")
    return addresses[0]


def check_url(url: str) -> tuple[str, int, str]:
    """(host, port, address) of an https URL to a public host, or :class:`FetchRefused`."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "https":
        raise FetchRefused(f"only https URLs are fetched, not '{parts.scheme or url}'")
    if not parts.hostname:
        raise FetchRefused(f"'{url}' names no host")
    if parts.username or parts.password:
        raise FetchRefused("URLs with credentials are not fetched")
    port = parts.port or 443
    return parts.hostname, port, _public_address(parts.hostname, port)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a checked address, with the certificate checked against the host name."""

    def __init__(self, host: str, port: int, address: str):
        super().__init__(host, port, timeout=TIMEOUT, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _open(url: str) -> tuple[http.client.HTTPSConnection, http.client.HTTPResponse]:
    host, port, address = check_url(url)
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn = _PinnedHTTPSConnection(host, port, address)
    try:
        conn.request("GET", target, headers={"User-Agent": "Kho"})
        response = conn.getresponse()
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        raise FetchFailed(f"{url}: {exc}") from None
    if 300 <= response.status < 400:
        conn.close()
        raise FetchRefused(f"{url} redirects to {response.getheader('Location')}; "
                           "redirects are not followed")
    if response.status != 200:
        conn.close()
        raise FetchFailed(f"{url}: HTTP {response.status}")
    return conn, response


def fetch_bytes(url: str, max_bytes: int = 1024 * 1024) -> bytes:
    """A small document (a BagIt-Profile) from a public https URL."""
    conn, response = _open(url)
    try:
        data = response.read(max_bytes + 1)
    finally:
        conn.close()
    if len(data) > max_bytes:
        raise FetchFailed(f"{url} is larger than {max_bytes} bytes")
    return data


def fetch_file(url: str, bag_root: Path, path: str, *, length: int | None,
               digests: dict[str, str], max_bytes: int) -> Path:
    """Download url to bag_root/path, keeping it only if size and every digest match."""
    why = unsafe_path(path)
    if why:
        raise FetchRefused(f"path '{path}' {why}")
    root = Path(bag_root).resolve()
    target = (root / path).resolve()
    if root not in target.parents or not path.startswith("data/"):
        raise FetchRefused(f"path '{path}' is outside the bag's payload")
    if not digests:
        raise FetchRefused(f"'{path}' has no digest to check the download against")
    limit = min(max_bytes, length) if length is not None else max_bytes
    conn, response = _open(url)
    hashers = {a: hash_constructor(a)() for a in digests}
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".kho-fetch-")
    size = 0
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := response.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise FetchFailed(f"{url} sends more than {limit} bytes")
                for h in hashers.values():
                    h.update(chunk)
                out.write(chunk)
        if length is not None and size != length:
            raise FetchFailed(f"{url} sent {size} bytes, fetch.txt says {length}")
        for algorithm, h in hashers.items():
            if h.hexdigest() != digests[algorithm].lower():
                raise FetchFailed(f"{url}: {algorithm} digest does not match the manifest")
        os.replace(tmp, target)
        return target
    except BaseException:
        os.unlink(tmp)
        raise
    finally:
        conn.close()
