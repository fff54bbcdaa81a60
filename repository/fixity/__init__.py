"""Fixity (OAIS Archival Storage, error checking): checks, schedules, reports, alerts.

Doors call: `check_aips(settings, catalog, identifiers)` (run.py) to check AIPs now,
`select_aips` / `next_batch` / `run_batch` / `run_scheduler` (schedule.py) to choose them,
`build_report` and `render_report` (report.py) for auditors, `check_aip` (check.py) to
check one object without a database.
"""
from .check import AipCheckResult, CatalogueFile, FileResult, check_aip
from .models import (CHANGED, DISAGREE, ERROR, FAILURES, INVENTORY_ALTERED, MISSING, OK, OUTCOMES,
                     SIZE_CHANGED, UNEXPECTED, FixityAipStatus, FixityCheck, FixityLease,
                     FixityResult, LocationHealth)
from .run import RunSummary, check_aips, record_check
from .schedule import (acquire_lease, next_batch, release_lease, run_batch, run_scheduler,
                       select_aips, start_background_scheduler)

__all__ = [
    "AipCheckResult", "CatalogueFile", "FileResult", "check_aip",
    "CHANGED", "DISAGREE", "ERROR", "FAILURES", "INVENTORY_ALTERED", "MISSING", "OK", "OUTCOMES",
    "SIZE_CHANGED", "UNEXPECTED", "FixityAipStatus", "FixityCheck", "FixityLease",
    "FixityResult", "LocationHealth", "RunSummary", "check_aips", "record_check",
    "acquire_lease", "next_batch", "release_lease", "run_batch", "run_scheduler", "select_aips",
    "start_background_scheduler",
]
