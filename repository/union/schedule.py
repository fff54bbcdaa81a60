"""The background harvester of `kho serve`: each source on its own interval."""
from __future__ import annotations

import logging
import threading

from repository.config import Settings
from repository.union.harvest import harvest_all

log = logging.getLogger("kho.union")


def run_harvester(settings: Settings, catalog, stop: threading.Event) -> None:
    """Every KHO_UNION_TICK seconds, harvest the sources whose interval has passed."""
    while not stop.is_set():
        try:
            for report in harvest_all(settings, catalog, only_due=True, sleep=stop.wait):
                log.info("union harvest %s", report)
        except Exception:  # noqa: BLE001 - the loop must outlive a bad tick (database down…)
            log.exception("union harvest tick failed")
        stop.wait(max(1, settings.union_tick_s))


def start_background_harvester(settings: Settings, catalog) -> threading.Event:
    """Run the harvester in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()
    threading.Thread(target=run_harvester, args=(settings, catalog, stop),
                     name="kho-union-harvester", daemon=True).start()
    return stop
