"""The OAI-PMH 2.0 provider: which records a harvester sees, their datestamps, sets and tokens.

Spec: http://www.openarchives.org/OAI/openarchivesprotocol.html (cited as §N below).
Records are AIPs' Dublin Core descriptions as ``oai_dc``; sets are collections; a withdrawn
AIP is a deleted record, kept for ever (deletedRecord ``persistent``). Which AIPs a
harvester sees is decided in the SQL query (:func:`harvestable`): public and restricted
ones (their description is public, their content keeps its access), embargoed ones from
the moment the embargo ends. Lists are paged by a keyset cursor over (datestamp,
identifier) carried in a signed, stateless resumption token: no OFFSET, no server state,
and records ingested while a harvester pages neither shift nor repeat what it sees.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Iterable, Iterator, Sequence
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import and_, func, select, tuple_

from repository.catalog.datestamps import as_utc
from repository.catalog.models import Aip, Collection, DublinCoreRecord
from repository.catalog.visibility import descriptions_public
from repository.config import Settings
from repository.metadata.oai_dc import (DC_NS, OAI_DC_NS, OAI_DC_SCHEMA, XSI_NS,
                                        oai_dc_elements)
from repository.metadata.text import normalise_text

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
OAI_SCHEMA = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
OAI_IDENTIFIER_NS = "http://www.openarchives.org/OAI/2.0/oai-identifier"
OAI_IDENTIFIER_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai-identifier.xsd"
GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"
METADATA_FORMATS = {"oai_dc": (OAI_DC_SCHEMA, OAI_DC_NS)}
SCHEMA_DIR = "schemas/oai"

# §3.1.1: the arguments each verb takes; a resumptionToken is exclusive (§3.5).
REQUIRED = {"Identify": (), "ListMetadataFormats": (), "ListSets": (),
            "GetRecord": ("identifier", "metadataPrefix"),
            "ListIdentifiers": ("metadataPrefix",), "ListRecords": ("metadataPrefix",)}
OPTIONAL = {"Identify": (), "ListMetadataFormats": ("identifier",), "ListSets": (),
            "GetRecord": (), "ListIdentifiers": ("from", "until", "set"),
            "ListRecords": ("from", "until", "set")}
RESUMABLE = ("ListSets", "ListIdentifiers", "ListRecords")
# What the request element may echo (OAI-PMH.xsd requestType), so the answer stays valid.
_ECHO_PATTERNS = {
    "metadataPrefix": re.compile(r"[A-Za-z0-9\-_.!~*'()]+"),
    "set": re.compile(r"[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*"),
    "identifier": re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|\\^`]*"),
    "from": re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}Z)?"),
    "until": re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}Z)?"),
}
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SECOND = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class OaiError(Exception):
    """An OAI-PMH error condition (§3.6): ``code`` is the protocol's own."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


# --- who sees what -------------------------------------------------------------------------

def harvestable(today: date):
    """SQL condition on Aip joined with Collection: descriptions a harvester may see.

    Public and restricted AIPs (descriptions are public), embargoed ones once the embargo of
    the AIP and of its collection has ended; withdrawn ones too (as deleted records).
    """
    return descriptions_public(today)


# --- dates ---------------------------------------------------------------------------------

def format_datestamp(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datestamp(text: str, name: str) -> tuple[datetime, bool]:
    """(moment, is_day) from YYYY-MM-DD or YYYY-MM-DDThh:mm:ssZ (§3.3.1); badArgument else."""
    try:
        if _DAY.match(text):
            day = date.fromisoformat(text)
            return datetime(day.year, day.month, day.day, tzinfo=timezone.utc), True
        if _SECOND.match(text):
            return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=timezone.utc), False
    except ValueError:
        pass
    raise OaiError("badArgument", f"{name}={text!r} is not a date YYYY-MM-DD or "
                                  f"YYYY-MM-DDThh:mm:ssZ (UTC)")


# --- resumption tokens ---------------------------------------------------------------------

@dataclass(frozen=True)
class ListQuery:
    """One selective harvest and where in it the next page starts."""

    verb: str
    prefix: str
    set_spec: str | None
    start: datetime | None          # inclusive
    end: datetime                   # exclusive; fixed at the first page
    after: tuple[datetime, str] | None = None
    cursor: int = 0
    total: int | None = None


def token_key(settings: Settings) -> bytes:
    """The key that signs resumption tokens: the setting, else one kept in the data folder."""
    if settings.oai_token_secret:
        return settings.oai_token_secret.encode("utf-8")
    path = Path(settings.data_dir) / "oai-token-key"
    try:
        return bytes.fromhex(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        path.parent.mkdir(parents=True, exist_ok=True)
        staged = path.with_name(f".{path.name}.{os.getpid()}")
        staged.write_text(secrets.token_hex(32))
        os.chmod(staged, 0o600)
        os.replace(staged, path)  # whoever renames last wins; every process re-reads it
        return bytes.fromhex(path.read_text().strip())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_token(query: ListQuery, key: bytes, expires: datetime) -> str:
    payload = {"v": query.verb, "p": query.prefix, "s": query.set_spec,
               "f": int(query.start.timestamp()) if query.start else None,
               "u": int(query.end.timestamp()), "c": query.cursor, "n": query.total,
               "e": int(expires.timestamp()),
               "a": [int(query.after[0].timestamp()), query.after[1]] if query.after else None}
    body = _b64(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
    signature = _b64(hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()[:18])
    return f"{body}.{signature}"


def decode_token(token: str, verb: str, key: bytes, now: datetime) -> ListQuery:
    """The ListQuery in ``token``; badResumptionToken if forged, altered, expired or foreign."""
    body, _, signature = token.partition(".")
    try:
        expected = _b64(hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()[:18])
        if not hmac.compare_digest(expected, signature):
            raise ValueError("signature")
        data = json.loads(_unb64(body))
        if data["v"] != verb:
            raise OaiError("badResumptionToken",
                           f"this resumptionToken continues {data['v']}, not {verb}")
        if data["e"] < now.timestamp():
            raise OaiError("badResumptionToken", "this resumptionToken has expired; "
                                                 "start the list again")
        moment = lambda s: datetime.fromtimestamp(s, timezone.utc)  # noqa: E731
        return ListQuery(verb=verb, prefix=data["p"], set_spec=data["s"],
                         start=moment(data["f"]) if data["f"] is not None else None,
                         end=moment(data["u"]), cursor=int(data["c"]), total=data["n"],
                         after=(moment(data["a"][0]), str(data["a"][1])) if data["a"] else None)
    except OaiError:
        raise
    except (ValueError, KeyError, TypeError, IndexError, UnicodeError):
        raise OaiError("badResumptionToken",
                       "the resumptionToken is not one this repository issued") from None


# --- the provider --------------------------------------------------------------------------

@dataclass(frozen=True)
class Header:
    identifier: str          # the AIP's
    datestamp: datetime
    set_spec: str | None
    deleted: bool


class OaiProvider:
    """Answers OAI-PMH requests from the catalogue; each answer is a complete XML document."""

    def __init__(self, settings: Settings, catalog, base_url: str):
        self.settings, self.catalog, self.base_url = settings, catalog, base_url
        self.repository_id = settings.oai_repository_identifier
        self.prefix = f"oai:{self.repository_id}:"
        self.page_size = max(1, settings.oai_page_size)
        self.key = token_key(settings)
        # Where a record's page is, for the dc:identifier link harvesters show their readers.
        self.site = base_url.rsplit("/oai", 1)[0]
        self._site_text = escape(self.site)
        self._dc_start = (f'<metadata><oai_dc:dc xmlns:oai_dc="{OAI_DC_NS}" xmlns:dc="{DC_NS}" '
                          f'xsi:schemaLocation="{OAI_DC_NS} {OAI_DC_SCHEMA}">')

    # The door hands in the arguments as (name, value) pairs, repeats included.
    def respond(self, arguments: Sequence[tuple[str, str]]) -> Iterator[str]:
        """The answer to one request, as chunks of XML text (streamed by the door)."""
        now = datetime.now(timezone.utc).replace(microsecond=0)
        try:
            verb, args = self._check_arguments(arguments)
        except OaiError as exc:
            yield from self._error_document(now, {}, [exc])
            return
        try:
            body = list(getattr(self, f"_{verb}")(args, now))  # errors surface before output
        except OaiError as exc:
            yield from self._error_document(now, self._echo(verb, args, exc.code), [exc])
            return
        yield self._envelope_start(now, self._echo(verb, args, None))
        yield f"<{verb}>"
        yield from body
        yield f"</{verb}></OAI-PMH>\n"

    # §3.1.1, §3.6: badVerb and badArgument.
    def _check_arguments(self, arguments: Sequence[tuple[str, str]]) -> tuple[str, dict]:
        args: dict[str, str] = {}
        repeated: list[str] = []
        for name, value in arguments:
            if name in args:
                repeated.append(name)
            args[name] = value
        verb = args.pop("verb", None)
        if "verb" in repeated:
            raise OaiError("badVerb", "the verb argument is repeated")
        if verb is None:
            raise OaiError("badVerb", "the verb argument is missing")
        if verb not in REQUIRED:
            raise OaiError("badVerb", f"{verb!r} is not an OAI-PMH verb")
        if repeated:
            raise OaiError("badArgument", f"argument {repeated[0]} is repeated")
        if "resumptionToken" in args:
            if verb not in RESUMABLE:
                raise OaiError("badArgument", f"{verb} takes no resumptionToken")
            if len(args) > 1:
                raise OaiError("badArgument", "resumptionToken is an exclusive argument: "
                                              "send it with the verb alone")
            return verb, args
        allowed = set(REQUIRED[verb]) | set(OPTIONAL[verb])
        unknown = sorted(set(args) - allowed)
        if unknown:
            raise OaiError("badArgument", f"{verb} does not take the argument {unknown[0]}")
        missing = [name for name in REQUIRED[verb] if not args.get(name)]
        if missing:
            raise OaiError("badArgument", f"{verb} needs the argument {missing[0]}")
        return verb, {name: normalise_text(value) for name, value in args.items()}

    def _echo(self, verb: str, args: dict, code: str | None) -> dict:
        if code in ("badVerb", "badArgument"):  # §3.2: then the base URL alone
            return {}
        echoed = {"verb": verb}
        for name, value in args.items():
            pattern = _ECHO_PATTERNS.get(name)
            if name == "resumptionToken" or (pattern and pattern.fullmatch(value)):
                echoed[name] = value
        return echoed

    def _envelope_start(self, now: datetime, echoed: dict) -> str:
        attributes = "".join(f" {name}={quoteattr(value)}" for name, value in echoed.items())
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<OAI-PMH xmlns="{OAI_NS}" xmlns:xsi="{XSI_NS}" '
                f'xsi:schemaLocation="{OAI_NS} {OAI_SCHEMA}">'
                f"<responseDate>{format_datestamp(now)}</responseDate>"
                f"<request{attributes}>{escape(self.base_url)}</request>")

    def _error_document(self, now: datetime, echoed: dict, errors: list[OaiError]):
        yield self._envelope_start(now, echoed)
        for error in errors:
            yield f"<error code={quoteattr(error.code)}>{escape(error.message)}</error>"
        yield "</OAI-PMH>\n"

    # --- verbs -----------------------------------------------------------------------------

    def _Identify(self, _args: dict, now: datetime) -> Iterator[str]:
        with self.catalog.session() as session:
            earliest = session.scalar(
                select(func.min(Aip.oai_datestamp)).join(Collection, Aip.collection_id ==
                                                         Collection.id)
                .where(harvestable(now.date())))
        name = self.settings.oai_repository_name or \
            f"Kho – {self.settings.holding_institution}"
        yield f"<repositoryName>{escape(name)}</repositoryName>"
        yield f"<baseURL>{escape(self.base_url)}</baseURL>"
        yield "<protocolVersion>2.0</protocolVersion>"
        for email in (e.strip() for e in self.settings.oai_admin_email.split(",")):
            if email:
                yield f"<adminEmail>{escape(email)}</adminEmail>"
        yield f"<earliestDatestamp>{format_datestamp(earliest or now)}</earliestDatestamp>"
        yield "<deletedRecord>persistent</deletedRecord>"
        yield f"<granularity>{GRANULARITY}</granularity>"
        # §4.2 and the oai-identifier guidelines: how this repository names its items.
        yield (f'<description><oai-identifier xmlns="{OAI_IDENTIFIER_NS}" '
               f'xsi:schemaLocation="{OAI_IDENTIFIER_NS} {OAI_IDENTIFIER_SCHEMA}">'
               f"<scheme>oai</scheme><repositoryIdentifier>{escape(self.repository_id)}"
               f"</repositoryIdentifier><delimiter>:</delimiter><sampleIdentifier>"
               f"{escape(self.prefix)}0b6f3d2e-5c1a-4e8b-9f7d-2a4c6e8b0d1f</sampleIdentifier>"
               "</oai-identifier></description>")

    def _ListMetadataFormats(self, args: dict, now: datetime) -> Iterator[str]:
        if "identifier" in args:
            with self.catalog.session() as session:
                header, record = self._one(session, args["identifier"], now)
            if header.deleted or record is None:
                raise OaiError("noMetadataFormats",
                               f"{args['identifier']} was withdrawn: no metadata is "
                               "disseminated for it" if header.deleted else
                               f"{args['identifier']} has no description to disseminate")
        for prefix, (schema, namespace) in METADATA_FORMATS.items():
            yield (f"<metadataFormat><metadataPrefix>{prefix}</metadataPrefix>"
                   f"<schema>{schema}</schema><metadataNamespace>{namespace}"
                   "</metadataNamespace></metadataFormat>")

    def _ListSets(self, args: dict, now: datetime) -> Iterator[str]:
        if "resumptionToken" in args:  # the set list always fits in one answer
            decode_token(args["resumptionToken"], "ListSets", self.key, now)
            raise OaiError("badResumptionToken", "ListSets answers are never split")
        with self.catalog.session() as session:
            sets = session.execute(select(Collection.set_spec, Collection.title,
                                          Collection.name).order_by(Collection.set_spec)).all()
        if not sets:
            raise OaiError("noSetHierarchy", "this repository has no collections yet")
        for spec, title, name in sets:
            yield (f"<set><setSpec>{escape(spec)}</setSpec>"
                   f"<setName>{escape(_xml_text(title or name))}</setName></set>")

    def _GetRecord(self, args: dict, now: datetime) -> Iterator[str]:
        if args["metadataPrefix"] not in METADATA_FORMATS:
            raise OaiError("cannotDisseminateFormat",
                           f"{args['metadataPrefix']!r} is not a format of this repository; "
                           f"ListMetadataFormats names them")
        with self.catalog.session() as session:
            header, record = self._one(session, args["identifier"], now)
        yield "<record>"
        yield self._header_xml(header)
        if not header.deleted:
            yield self._metadata_xml(header.identifier, record or {})
        yield "</record>"

    def _ListIdentifiers(self, args: dict, now: datetime) -> Iterator[str]:
        return self._list("ListIdentifiers", args, now)

    def _ListRecords(self, args: dict, now: datetime) -> Iterator[str]:
        return self._list("ListRecords", args, now)

    # --- lists -----------------------------------------------------------------------------

    def _list_query(self, verb: str, args: dict, now: datetime) -> ListQuery:
        if "resumptionToken" in args:
            return decode_token(args["resumptionToken"], verb, self.key, now)
        prefix = args["metadataPrefix"]
        start = end = None
        if "from" in args:
            start, start_day = parse_datestamp(args["from"], "from")
        if "until" in args:
            end, end_day = parse_datestamp(args["until"], "until")
            if start is not None and start_day != end_day:
                raise OaiError("badArgument", "from and until must have the same granularity")
            end += timedelta(days=1) if end_day else timedelta(seconds=1)  # whole day/second
            if start is not None and start >= end:
                raise OaiError("badArgument", "from is later than until")
        if prefix not in METADATA_FORMATS:
            raise OaiError("cannotDisseminateFormat",
                           f"{prefix!r} is not a format of this repository")
        # The list is fixed at its first page: what changes later comes in the next harvest.
        end = min(end, now + timedelta(seconds=1)) if end else now + timedelta(seconds=1)
        return ListQuery(verb, prefix, args.get("set"), start, end)

    def _list(self, verb: str, args: dict, now: datetime) -> Iterator[str]:
        query = self._list_query(verb, args, now)
        with_records = verb == "ListRecords"
        with self.catalog.session() as session:
            if query.set_spec is not None and not session.scalar(select(Collection.id).limit(1)):
                raise OaiError("noSetHierarchy", "this repository has no collections yet")
            condition = self._list_condition(query, now)
            if query.total is None:
                total = session.scalar(select(func.count()).select_from(Aip).join(
                    Collection, Aip.collection_id == Collection.id).where(condition)) or 0
                if total == 0:
                    raise OaiError("noRecordsMatch", "no records match these arguments")
                query = ListQuery(**{**query.__dict__, "total": total})
            columns = [Aip.identifier, Aip.oai_datestamp, Aip.withdrawn_at, Collection.set_spec]
            statement = select(*columns).join(Collection, Aip.collection_id == Collection.id)
            if with_records:  # the kept XML text, not the JSON record: nothing to decode
                statement = select(*columns, DublinCoreRecord.oai_dc, Aip.id).join(
                    Collection, Aip.collection_id == Collection.id).outerjoin(
                    DublinCoreRecord, DublinCoreRecord.aip_id == Aip.id)
            if query.after is not None:
                # A row-value comparison: both SQLite and PostgreSQL seek the index with it.
                condition = and_(condition, tuple_(Aip.oai_datestamp, Aip.identifier) >
                                 tuple_(*query.after))
            rows = session.execute(statement.where(condition)
                                   .order_by(Aip.oai_datestamp, Aip.identifier)
                                   .limit(self.page_size + 1)).all()
            unrendered = [row[5] for row in rows[:self.page_size]
                          if with_records and row[4] is None and row[2] is None]
            records = dict(session.execute(
                select(DublinCoreRecord.aip_id, DublinCoreRecord.record)
                .where(DublinCoreRecord.aip_id.in_(unrendered))).all()) if unrendered else {}
        if not rows:  # only a token can get here: the rest of its list went away
            raise OaiError("noRecordsMatch", "no records remain in this list")
        more = len(rows) > self.page_size
        rows = rows[:self.page_size]
        chunk: list[str] = []
        for row in rows:
            header = Header(row[0], as_utc(row[1]), row[3], row[2] is not None)
            if with_records:
                chunk.append("<record>")
                chunk.append(self._header_xml(header))
                if not header.deleted:
                    chunk.append(self._metadata_xml(header.identifier,
                                                    records.get(row[5]) or {}, row[4]))
                chunk.append("</record>")
            else:
                chunk.append(self._header_xml(header))
            if len(chunk) >= 256:
                yield "".join(chunk)
                chunk = []
        yield "".join(chunk)
        first_page = query.cursor == 0 and query.after is None
        if more:
            last = rows[-1]
            following = ListQuery(**{**query.__dict__, "cursor": query.cursor + len(rows),
                                     "after": (as_utc(last[1]), last[0])})
            expires = now + timedelta(seconds=self.settings.oai_token_lifetime_s)
            token = encode_token(following, self.key, expires)
            yield (f'<resumptionToken expirationDate="{format_datestamp(expires)}" '
                   f'completeListSize="{max(query.total or 1, 1)}" cursor="{query.cursor}">'
                   f"{token}</resumptionToken>")
        elif not first_page:  # §3.5: the last part of a split list has an empty token
            yield (f'<resumptionToken completeListSize="'
                   f'{max(query.total or 1, query.cursor + len(rows))}" '
                   f'cursor="{query.cursor}"/>')

    def _list_condition(self, query: ListQuery, now: datetime):
        condition = and_(harvestable(now.date()), Aip.oai_datestamp < query.end)
        if query.start is not None:
            condition = and_(condition, Aip.oai_datestamp >= query.start)
        if query.set_spec is not None:
            condition = and_(condition, Collection.set_spec == query.set_spec)
        return condition

    # --- one record ------------------------------------------------------------------------

    def _one(self, session, oai_identifier: str, now: datetime) -> tuple[Header, dict | None]:
        if not oai_identifier.startswith(self.prefix):
            raise OaiError("idDoesNotExist", f"{oai_identifier} is not an identifier of this "
                                             f"repository (they begin {self.prefix})")
        row = session.execute(
            select(Aip.identifier, Aip.oai_datestamp, Aip.withdrawn_at, Collection.set_spec,
                   DublinCoreRecord.record)
            .join(Collection, Aip.collection_id == Collection.id)
            .outerjoin(DublinCoreRecord, DublinCoreRecord.aip_id == Aip.id)
            .where(Aip.identifier == oai_identifier[len(self.prefix):],
                   harvestable(now.date()))).first()
        if row is None:
            raise OaiError("idDoesNotExist", f"no record {oai_identifier} in this repository")
        return Header(row[0], as_utc(row[1]), row[3], row[2] is not None), row[4]

    def _header_xml(self, header: Header) -> str:
        status = ' status="deleted"' if header.deleted else ""
        spec = f"<setSpec>{escape(header.set_spec)}</setSpec>" if header.set_spec else ""
        return (f"<header{status}><identifier>{escape(self.prefix + header.identifier)}"
                f"</identifier><datestamp>{format_datestamp(header.datestamp)}</datestamp>"
                f"{spec}</header>")

    def _metadata_xml(self, identifier: str, record: dict, rendered: str | None = None) -> str:
        # A link to the record's page, which harvesters show their readers.
        return (f'{self._dc_start}{rendered if rendered is not None else oai_dc_elements(record)}'
                f"<dc:identifier>{self._site_text}/aips/{identifier}</dc:identifier>"
                "</oai_dc:dc></metadata>")


def _xml_text(value: str) -> str:
    return _NOT_XML_CHAR.sub("", value)


# --- the XML Schemas -----------------------------------------------------------------------

@lru_cache(maxsize=1)
def response_schema():
    """An lxml XMLSchema for OAI-PMH 2.0 answers with oai_dc records and oai-identifier."""
    from lxml import etree
    folder = resources.files("repository.access").joinpath(SCHEMA_DIR)
    imports = {OAI_NS: "OAI-PMH.xsd", OAI_DC_NS: "oai_dc.xsd",
               OAI_IDENTIFIER_NS: "oai-identifier.xsd"}
    driver = ('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">' + "".join(
        f'<xs:import namespace="{ns}" schemaLocation="{Path(str(folder.joinpath(name))).as_uri()}"/>'
        for ns, name in imports.items()) + "</xs:schema>")
    return etree.XMLSchema(etree.fromstring(driver.encode("utf-8")))


def validate_response(document: bytes) -> list[str]:
    """Every way ``document`` breaks the schemas (empty when it is valid)."""
    from lxml import etree
    schema = response_schema()
    tree = etree.fromstring(document, etree.XMLParser(resolve_entities=False, no_network=True))
    if schema.validate(tree):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]


def oai_identifier(settings: Settings, aip_identifier: str) -> str:
    return f"oai:{settings.oai_repository_identifier}:{aip_identifier}"


def iter_chunks(parts: Iterable[str]) -> Iterator[bytes]:
    for part in parts:
        yield part.encode("utf-8")
