"""The holdings register (OAIS Administration): what each library holds under the
digitisation programme, digitised or not, and its progress toward the programme's target.

Items are linked to AIPs by shelfmark (``links``); preserved and published follow from
Kho's own records when asked, never from a stored copy.
"""
from repository.holdings.models import (AipShelfmark, HoldingCollection, HoldingItem,
                                        HoldingLibrary, HoldingStatusChange)
from repository.holdings.register import (ImportSummary, find_item, find_library,
                                          import_register, set_status, set_target,
                                          status_history)
from repository.holdings.vocabulary import STAFF_STATUSES, STATUSES, parse_status

__all__ = [
    "AipShelfmark", "HoldingCollection", "HoldingItem", "HoldingLibrary", "HoldingStatusChange",
    "ImportSummary", "find_item", "find_library", "import_register", "set_status", "set_target",
    "status_history", "STAFF_STATUSES", "STATUSES", "parse_status",
]
