"""The last check of the PREMIS event log's hash chain, whichever door ran it (`kho audit
verify` or the audit page's button), kept in the data folder so the audit page can say what
it found and when it last ran."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from repository.catalog.events import ChainVerification
from repository.config import Settings

LAST_CHECK_FILE = "audit-verify.json"


def record_chain_check(settings: Settings, result: ChainVerification, *, by: str) -> dict:
    """Keep ``result`` as the last check (call it while ``result.first_bad``'s session is open).

    Written to a staging name and renamed, so a reader never sees half a record."""
    bad = result.first_bad
    outcome = {"ok": result.ok, "checked": result.checked, "head": result.head or "",
               "reason": result.reason or "",
               "first_bad": bad.identifier if bad is not None else "",
               "ran_at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "by": by}
    path = settings.data_dir / LAST_CHECK_FILE
    staged = path.with_suffix(".tmp")
    staged.write_text(json.dumps(outcome, ensure_ascii=False), "utf-8")
    staged.replace(path)
    return outcome


def last_chain_check(settings: Settings) -> dict | None:
    """The last check kept by :func:`record_chain_check`, or None if none ran (or it is unreadable)."""
    try:
        return json.loads((settings.data_dir / LAST_CHECK_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
