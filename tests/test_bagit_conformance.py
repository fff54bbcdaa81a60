"""Kho's validator against every bag of the Library of Congress BagIt conformance suite.

The suite's rule: run from inside the category folder on the bag's relative name.
valid/ must pass, invalid/ must fail with a reason, warning/ must pass with a warning.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from repository.ingest import validate_bag
from tests.conftest import SHARED

SUITE = Path("conformance") / "bagit"
CATEGORIES = ("valid", "invalid", "warning")


def _cases() -> list[str]:
    base = SHARED / SUITE
    cases = [f"{v.name}/{c}/{b.name}"
             for v in sorted(base.glob("v*")) for c in CATEGORIES if (v / c).is_dir()
             for b in sorted((v / c).iterdir()) if b.is_dir()]
    return cases or ["(suite not found)"]


@pytest.mark.parametrize("case", _cases())
def test_conformance_bag_gets_the_expected_verdict(case, shared_dir, monkeypatch):
    version, category, name = case.split("/")
    folder = shared_dir / SUITE / version / category
    monkeypatch.chdir(folder)
    report = validate_bag(Path(name), processes=1).report
    problems = "\n".join(str(p) for p in report.errors + report.warnings)
    if category == "valid":
        assert report.valid, f"valid bag rejected:\n{problems}"
    elif category == "invalid":
        assert not report.valid, "invalid bag accepted"
        assert all(p.code and p.message for p in report.errors)
    else:
        assert report.valid, f"warning bag rejected:\n{problems}"
        assert report.warnings, "no warning reported"


def test_the_suite_has_every_category_and_version(shared_dir):
    cases = _cases()
    assert len(cases) >= 45
    for category in CATEGORIES:
        assert any(f"/{category}/" in c for c in cases)
