"""Talking to another library's OAI-PMH provider, safely and patiently.

Only http and https; a cap on the bytes and the seconds of every answer; 503 and 429 are
waited out as their Retry-After says (up to a limit); a redirect may stay on the host the
admin gave, but never leads to another host's private or loopback address (a province's
libraries may share a private network, but a source must not point Kho at someone else's
internal services). Answers are parsed without entity expansion or network access; when
an answer is not well-formed, each record is recovered on its own so one broken record
does not lose the page.
"""
from __future__ import annotations

import email.utils
import ipaddress
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable, Iterator
from xml.sax.saxutils import unescape

from repository.config import Settings
from repository.errors import KhoError, UsageError

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
_O = f"{{{OAI_NS}}}"
USER_AGENT = "Kho union catalogue harvester (OAI-PMH 2.0)"
MAX_REDIRECTS = 5


class SourceError(KhoError):
    """A source could not be harvested now: down, too slow, too large, or not OAI-PMH."""


class OaiErrorAnswer(SourceError):
    """The source answered with an OAI-PMH error (``code`` is the protocol's)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


def check_base_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL without credentials or a query; UsageError else."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"a source's base URL must be http:// or https://, not {url!r}")
    if parts.username or parts.password:
        raise UsageError("a source's base URL may not carry a user name or password")
    if parts.query or parts.fragment:
        raise UsageError("a source's base URL has no query or fragment (Kho adds the verb)")
    return url.strip()


def _is_internal(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    return (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved
            or ip.is_unspecified or ip.is_multicast)


def check_redirect(origin: str, target: str) -> None:
    """Refuse a redirect that leaves http(s), or leads to another host's internal address."""
    source, parts = urllib.parse.urlsplit(origin), urllib.parse.urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SourceError(f"{origin} redirected to {target!r}: only http and https are followed")
    if parts.hostname.lower() == (source.hostname or "").lower():
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 80)}
    except OSError as exc:
        raise SourceError(f"{origin} redirected to {parts.hostname}, which does not resolve: "
                          f"{exc}") from None
    internal = sorted(a for a in addresses if _is_internal(a))
    if internal:
        raise SourceError(f"{origin} redirected to {parts.hostname} ({internal[0]}), a private "
                          "or loopback address of another host; not followed")


class _GuardedRedirects(urllib.request.HTTPRedirectHandler):
    max_redirections = MAX_REDIRECTS

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        check_redirect(req.full_url, urllib.parse.urljoin(req.full_url, newurl))
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _retry_after(value: str | None, default: float) -> float:
    if not value:
        return default
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
        return max(0.0, (moment - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError):
        return default


@dataclass
class Page:
    """One answer of a list verb: its items (lxml elements), the token, what was broken."""

    items: list = field(default_factory=list)
    token: str | None = None
    problems: list[str] = field(default_factory=list)


class OaiClient:
    """Requests to one provider's base URL; every answer capped, checked and parsed."""

    def __init__(self, base_url: str, settings: Settings,
                 sleep: Callable[[float], None] = time.sleep):
        self.base_url = check_base_url(base_url)
        self.settings, self.sleep = settings, sleep
        # No proxies: the address checks above must be about the host actually contacted.
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                                  _GuardedRedirects())

    def fetch(self, params: dict[str, str]) -> bytes:
        """The body of one answer, after waiting out 503/429 and retrying network faults."""
        url = f"{self.base_url}?{urllib.parse.urlencode(params)}"
        attempts = max(0, self.settings.union_retries) + 1
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                return self._read(url)
            except urllib.error.HTTPError as exc:
                if exc.code in (503, 429) and not last:
                    wait = _retry_after(exc.headers.get("Retry-After"), 2.0 ** attempt)
                    if wait > self.settings.union_max_retry_after_s:
                        raise SourceError(f"{self.base_url} asks to wait {wait:.0f} s "
                                          "(Retry-After), more than KHO_UNION_MAX_RETRY_AFTER")
                    self.sleep(wait)
                    continue
                raise SourceError(f"{self.base_url} answered HTTP {exc.code} {exc.reason}") \
                    from None
            except SourceError:
                raise
            except (urllib.error.URLError, OSError) as exc:
                if last:
                    reason = getattr(exc, "reason", exc)
                    raise SourceError(f"{self.base_url} cannot be reached: {reason}") from None
                self.sleep(min(2.0 ** attempt, 30.0))
        raise AssertionError("unreachable")  # pragma: no cover

    def _read(self, url: str) -> bytes:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        deadline = time.monotonic() + self.settings.union_timeout_s
        cap = self.settings.union_max_response_bytes
        with self.opener.open(request, timeout=self.settings.union_timeout_s) as response:
            length = response.headers.get("Content-Length")
            if length and length.isdigit() and int(length) > cap:
                raise SourceError(f"{self.base_url}: an answer of {length} bytes is larger than "
                                  f"KHO_UNION_MAX_RESPONSE_BYTES ({cap})")
            chunks, size = [], 0
            while True:
                # read1: whatever has arrived, so a provider that drips bytes meets the
                # deadline at once, not after 64 KiB
                chunk = response.read1(64 * 1024)
                if not chunk:
                    break
                size += len(chunk)
                if size > cap:
                    raise SourceError(f"{self.base_url}: an answer larger than "
                                      f"KHO_UNION_MAX_RESPONSE_BYTES ({cap}) was cut off")
                if time.monotonic() > deadline:
                    raise SourceError(f"{self.base_url}: an answer took longer than "
                                      f"KHO_UNION_TIMEOUT ({self.settings.union_timeout_s} s)")
                chunks.append(chunk)
        return b"".join(chunks)

    # --- verbs -----------------------------------------------------------------------------

    def identify(self) -> dict[str, str]:
        root = parse_document(self.fetch({"verb": "Identify"}), self.base_url)
        raise_oai_error(root)
        identify = root.find(f"{_O}Identify")
        if identify is None:
            raise SourceError(f"{self.base_url} did not answer Identify")
        return {child.tag.removeprefix(_O): (child.text or "").strip()
                for child in identify if isinstance(child.tag, str)}

    def pages(self, verb: str, params: dict[str, str]) -> Iterator[Page]:
        """Every page of a list verb; OaiErrorAnswer (e.g. badResumptionToken) stops it."""
        item = "header" if verb == "ListIdentifiers" else "record"
        query = {"verb": verb, **params}
        while True:
            page = parse_page(self.fetch(query), verb, item, self.base_url)
            yield page
            if not page.token:
                return
            query = {"verb": verb, "resumptionToken": page.token}


# --- parsing -------------------------------------------------------------------------------

def _parser():
    from lxml import etree
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                           huge_tree=False, remove_comments=True)


def parse_document(body: bytes, source: str):
    from lxml import etree
    try:
        return etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as exc:
        raise SourceError(f"{source}: the answer is not well-formed XML: {exc}") from None


def raise_oai_error(root) -> None:
    error = root.find(f"{_O}error")
    if error is not None:
        raise OaiErrorAnswer(error.get("code", "unknown"), (error.text or "").strip())


def parse_page(body: bytes, verb: str, item: str, source: str) -> Page:
    from lxml import etree
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError:
        return _salvage(body, item, source)
    raise_oai_error(root)
    container = root.find(f"{_O}{verb}")
    if container is None:
        raise SourceError(f"{source}: the answer to {verb} has no {verb} element")
    token = container.find(f"{_O}resumptionToken")
    return Page(items=container.findall(f"{_O}{item}"),
                token=(token.text or "").strip() or None if token is not None else None)


_ROOT_START = re.compile(rb"<(?:\w+:)?OAI-PMH\b([^>]*)>", re.S)
_NS_DECL = re.compile(rb"""\sxmlns(?::\w+)?\s*=\s*(?:"[^"]*"|'[^']*')""")
_IDENTIFIER = re.compile(rb"<(?:\w+:)?identifier>\s*([^<]{1,1000}?)\s*</(?:\w+:)?identifier>")


def _salvage(body: bytes, item: str, source: str) -> Page:
    """A page that is not well-formed: parse each item alone, report the broken ones."""
    from lxml import etree
    start = _ROOT_START.search(body)
    if start is None:
        raise SourceError(f"{source}: the answer is not OAI-PMH XML")
    declarations = b"".join(_NS_DECL.findall(start.group(1)))
    pattern = re.compile(rb"<((?:\w+:)?)" + item.encode() + rb"\b.*?</\1" + item.encode() +
                         rb"\s*>", re.S)
    page = Page()
    for match in pattern.finditer(body):
        fragment = match.group(0)
        try:
            wrapper = etree.fromstring(b"<kho-wrapper" + declarations + b">" + fragment +
                                       b"</kho-wrapper>", _parser())
            page.items.append(wrapper[0])
        except etree.XMLSyntaxError as exc:
            found = _IDENTIFIER.search(fragment)
            name = found.group(1).decode("utf-8", "replace") if found else "a record"
            page.problems.append(f"{name}: not well-formed XML, skipped ({exc})")
    token = re.search(rb"<(?:\w+:)?resumptionToken\b[^>]*?(?:/>|>([^<]*)</(?:\w+:)?"
                      rb"resumptionToken>)", body)
    if token and token.group(1) and token.group(1).strip():
        page.token = unescape(token.group(1).strip().decode("utf-8", "replace"))
    if not page.items and not page.problems:
        raise SourceError(f"{source}: the answer is not well-formed XML")
    return page
