"""Alerts: a fixity failure, or a location failing for too long, by e-mail and/or webhook.

Sending never raises: an alert channel that is down is logged, and the check's results
are in the catalogue whatever happens to the alert.
"""
from __future__ import annotations

import json
import logging
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from repository.config import Settings

from .check import AipCheckResult

log = logging.getLogger(__name__)


@dataclass
class Alert:
    """One message: a subject, a plain-text body and the same facts as JSON."""

    subject: str
    body: str
    payload: dict[str, Any] = field(default_factory=dict)


def failure_alert(result: AipCheckResult, storage_description: str = "") -> Alert:
    """The alert for an AIP with fixity failures: every failed file, digests, location."""
    failures = result.failures
    lines = [f"Fixity check FAILED for AIP {result.aip_identifier}",
             f"Location: {result.location} {storage_description}".rstrip(),
             f"Object root: {result.object_root}", f"Checked at: {result.started_at.isoformat()}",
             f"{len(failures)} problem(s):", ""]
    for r in failures:
        lines.append(f"- {r.outcome}: {r.path}")
        if r.algorithm or r.expected or r.actual:
            lines.append(f"    {r.algorithm} expected {r.expected or '-'}")
            lines.append(f"    {r.algorithm} actual   {r.actual or '-'}")
        if r.detail:
            lines.append(f"    {r.detail}")
    payload = {"kind": "fixity failure", "aip": result.aip_identifier,
               "location": result.location, "object_root": result.object_root,
               "checked_at": result.started_at.isoformat(),
               "failures": [{"file": r.path, "outcome": r.outcome, "algorithm": r.algorithm,
                             "expected": r.expected, "actual": r.actual, "detail": r.detail}
                            for r in failures]}
    return Alert(f"[Kho] Fixity failure: AIP {result.aip_identifier} ({len(failures)} file(s))",
                 "\n".join(lines) + "\n", payload)


def storage_error_alert(location: str, since: datetime, error: str) -> Alert:
    """The alert for a location that has been unreachable or unreadable since ``since``."""
    body = (f"Storage location {location} has failed fixity checks since {since.isoformat()}.\n"
            f"Last error: {error}\nThese are errors (retried), not fixity failures: no file is "
            "known to be damaged, but none in this location is being proven intact.\n")
    return Alert(f"[Kho] Storage location {location} unreachable since {since:%Y-%m-%d %H:%M}",
                 body, {"kind": "storage error", "location": location,
                        "failing_since": since.isoformat(), "error": error})


def send_alert(settings: Settings, alert: Alert) -> list[str]:
    """Send by every configured channel; returns the channels that took it."""
    sent = []
    if settings.smtp_host and settings.alert_email_to:
        # Imported here: smtplib and email cost every `kho fixity run` at start otherwise.
        import smtplib
        from email.message import EmailMessage
        try:
            message = EmailMessage()
            message["Subject"] = alert.subject
            message["From"] = settings.alert_email_from
            message["To"] = settings.alert_email_to
            message.set_content(alert.body)
            with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=10) as smtp:
                smtp.send_message(message)
            sent.append("email")
        except (OSError, smtplib.SMTPException) as exc:
            log.error("fixity alert e-mail to %s failed: %s", settings.alert_email_to, exc)
    if settings.alert_webhook:
        try:
            data = json.dumps({"subject": alert.subject, "text": alert.body, **alert.payload},
                              ensure_ascii=False).encode("utf-8")
            request = urllib.request.Request(settings.alert_webhook, data=data, method="POST",
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
            sent.append("webhook")
        except OSError as exc:
            log.error("fixity alert webhook %s failed: %s", settings.alert_webhook, exc)
    return sent
