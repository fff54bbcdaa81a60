"""When a process may fork hashing children, and the context to fork them with.

Forked children cost a few milliseconds and inherit the imported modules, which is why
validation and command-line fixity hash in them. But a fork copies the parent mid-step:
- with a second thread alive, a lock that thread held (logging, a connection pool) is
  copied held, and the child waits on it forever;
- in a daemonic process (a pool's worker) multiprocessing refuses children;
- once kombu is loaded (a Celery worker running a deposit, a web server that queued one),
  its after-fork hook closes the broker channels the child inherited, and closing a Redis
  channel that was waiting in BRPOP reads from the parent's socket: the child blocks for
  good, and so does the pool that waits for it.
Callers use threads when this says no.
"""
from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.context import BaseContext


def fork_context() -> BaseContext | None:
    """The "fork" multiprocessing context if this process may safely fork now, else None."""
    import multiprocessing  # here: a small bag's `kho validate` needs no pool
    if "fork" not in multiprocessing.get_all_start_methods():
        return None
    if threading.active_count() != 1 or multiprocessing.current_process().daemon:
        return None
    if "kombu" in sys.modules:
        return None
    return multiprocessing.get_context("fork")
