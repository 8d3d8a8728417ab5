"""Lease fencing for writes made on a run's behalf outside the run store.

A worker advances a run while it holds the run's lease at some epoch (`runs.leases`); the
run store checks that epoch in every write (`runs.store`). Node executors also write
elsewhere while they work: a connector execution record, a callback token, a child run, a
provider execution, an integration operation. Those writes go through `fenced()` (or call
`check()` inside their own transaction), so a process that lost the run's lease, e.g.
after being stalled longer than the lease, writes none of them.

The holder's check is bound with `holding()` around `advance()`; the scheduler hands its
node threads a copy of the context, so an executor still running after its process lost
the lease checks the epoch it started with. Outside a run (the API, a queued connector
execution, a node tested alone) nothing is bound and `check()` does nothing.

This module sits in the lowest layer so connectors, providers and runs can all use it;
the check itself is the run store's (registered by `runs`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

# The bound check: raises `workflows.engine.store.LeaseLost` when the lease is gone.
_check: ContextVar[Callable[[], None] | None] = ContextVar("switchyard_lease_fence", default=None)


@contextmanager
def holding(check: Callable[[], None]) -> Iterator[None]:
    """Within the block (and in node threads started from it), `check()` runs `check`."""
    token = _check.set(check)
    try:
        yield
    finally:
        _check.reset(token)


def bound() -> bool:
    """True when a run's lease check is bound in this context."""
    return _check.get() is not None


def check() -> None:
    """Raise `LeaseLost` if this context advances a run whose lease its process lost. Call
    it inside the transaction of the write it guards: on PostgreSQL the check locks the run
    row until that transaction ends, so no takeover can slip in between."""
    bound_check = _check.get()
    if bound_check is not None:
        bound_check()


@contextmanager
def fenced() -> Iterator[None]:
    """A transaction that starts with `check()`: it writes nothing once the lease is lost."""
    with transaction.atomic():
        check()
        yield
