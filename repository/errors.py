"""Kho's typed errors and the validation problem record.

Rooms raise these; the doors (CLI, web) turn them into exit codes, text or JSON.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth a warning) with a package: stable code, path, sentence."""

    code: str
    path: str
    message: str
    severity: str = "error"  # "error" or "warning"

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "path": self.path, "message": self.message}

    def __str__(self) -> str:
        return f"{self.severity}: {self.code} {self.path}: {self.message}"


@dataclass
class ValidationReport:
    """Every problem found in one package, errors and warnings apart."""

    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    # One line said before the codes when the whole package is wrong in an obvious way
    # ("this is not a bag", "the bag is inside folder X/Y").
    summary: str = ""

    @property
    def valid(self) -> bool:
        return not self.errors

    def error(self, code: str, path: str, message: str) -> None:
        self.errors.append(Problem(code, path, message, "error"))

    def warn(self, code: str, path: str, message: str) -> None:
        self.warnings.append(Problem(code, path, message, "warning"))

    def extend(self, problems: Iterable[Problem]) -> None:
        for p in problems:
            (self.errors if p.severity == "error" else self.warnings).append(p)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"valid": self.valid,
                                "errors": [p.as_dict() for p in self.errors],
                                "warnings": [p.as_dict() for p in self.warnings]}
        if self.summary:
            body["summary"] = self.summary
        return body


class KhoError(Exception):
    """Base of every error Kho raises on purpose."""

    def http_message(self) -> str:
        """The message for an HTTP client: hints name HTTP fields, never CLI flags."""
        return str(self)


class UsageError(KhoError):
    """The request cannot be understood: no such path, unknown archive type, bad option."""


class Conflict(UsageError):
    """Well formed, but at odds with what the repository holds now (HTTP 409, RFC 9110
    §15.5.10): a name already taken, a collection that still holds AIPs, an AIP already
    withdrawn. Asking again after the state changes may succeed; rewording the request cannot."""


class UnreadableArchive(UsageError):
    """A file named as a zip or tar is not one (or is damaged)."""

    def __init__(self, path: str, kind: str, reason: str):
        super().__init__(f"{path}: not a readable {kind} archive ({reason})")
        self.path, self.kind, self.reason = path, kind, reason


class NotFound(KhoError):
    """The named thing (AIP, file, location, collection, user) does not exist."""


class Gone(NotFound):
    """The thing existed but was withdrawn on purpose (HTTP 410); ``reason`` says why."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason


class PermissionDenied(KhoError):
    """The caller is known but lacks the role or right."""


class ConfigurationError(KhoError):
    """A setting or storage location file is wrong."""


class PackageInvalid(KhoError):
    """A submission failed validation; ``report`` holds every problem."""

    def __init__(self, report: ValidationReport, message: str = "the package is not valid"):
        super().__init__(message)
        self.report = report


class UnsafeArchive(KhoError):
    """An archive tried to escape staging or exceeded a cap (links, '..', bombs)."""

    def __init__(self, path: str, message: str, code: str = "K-UNPACK"):
        super().__init__(f"{path}: {message}")
        self.path, self.message, self.code = path, message, code


class DuplicatePackage(KhoError):
    """The same bag (External-Identifier and payload) is already held."""

    REMEDY = "; {how} to store this deposit as its next version"

    def __init__(self, message: str, existing_aip: str):
        super().__init__(message + self.REMEDY.format(how="ingest with --new-version"))
        self.existing_aip, self.base_message = existing_aip, message

    def http_message(self) -> str:
        return self.base_message + self.REMEDY.format(
            how="deposit again with new_version=true (query parameter or JSON field)")


class StorageError(KhoError):
    """Storage could not do what was asked."""


class StorageUnavailable(StorageError):
    """The location cannot be reached or read now: retry later, this is not a fixity failure."""


class DigestMismatch(StorageError):
    """Bytes written or read do not have the digest they were expected to have."""

    def __init__(self, key: str, algorithm: str, expected: str, actual: str):
        super().__init__(f"{key}: {algorithm} expected {expected}, got {actual}")
        self.key, self.algorithm, self.expected, self.actual = key, algorithm, expected, actual


class UnreadableImage(KhoError):
    """A stored page image whose bytes no image library can decode."""


class WorkersUnavailable(KhoError):
    """No Celery worker answers on the queue (or the broker cannot be reached): work sent
    now would wait, unseen, for one to start."""


class CatalogError(KhoError):
    """The catalogue refused or failed a change."""


@dataclass(frozen=True)
class RowProblem:
    """One thing wrong with one row of an imported register: row number, column, reason."""

    row: int  # as a spreadsheet shows it (headings are row 1); a MARC file's record number
    column: str  # the heading as written in the file, or the MARC field ("245 $a")
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "message": self.message}

    def __str__(self) -> str:
        return f"row {self.row}, {self.column}: {self.message}" if self.column else \
            f"row {self.row}: {self.message}"


class RegisterInvalid(PackageInvalid):
    """A holdings register file was refused whole; ``problems`` names every bad row."""

    def __init__(self, problems: list[RowProblem], message: str = ""):
        report = ValidationReport()
        for p in problems:
            report.error("H100", f"row {p.row}" + (f", {p.column}" if p.column else ""), p.message)
        super().__init__(report, message or f"{len(problems)} problem(s) in the register; "
                                            "nothing was imported")
        self.problems = problems


class LegacyEncoding(RegisterInvalid):
    """A register file is in a legacy Vietnamese encoding (TCVN3, VNI) Kho cannot convert."""

    def __init__(self, message: str, encoding: str):
        super().__init__([RowProblem(0, "", message)], message)
        self.encoding = encoding
