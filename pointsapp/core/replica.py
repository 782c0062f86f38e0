"""Reads that may come from a read replica (DATABASE_REPLICA_URL), and only those.

Boards and reports are read-heavy and may be a second or so behind; a resident's balance, a checkout, a
check-in, a login and every write must see the primary. So the replica is used only:

- for the GET requests of the endpoints in REPLICA_ENDPOINTS, and there only inside the view function:
  the login and the access guard (before_request) have already read the primary;
- for plain SELECTs: a locking read (FOR UPDATE), every INSERT/UPDATE/DELETE and every flush go to the
  primary, so an audit event a report records is written where it belongs;
- or inside `with reads():` in a command or a service's caller.

With no replica configured every read goes to the primary and nothing here does anything. One session
holds a transaction on each engine it used; the unit of work commits both (the replica's only read).
"""
import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from flask import Flask, request
from flask_login import current_user
from flask_sqlalchemy.session import Session
from sqlalchemy import Select

BIND = "replica"

# The pages that read from the replica (docs/deploy.md lists them with what each may lag behind).
REPLICA_ENDPOINTS = (
    "rankings.board",  # the community hall's public board (红榜)
    "rankings.page",  # rankings: the boards, and her own place on them
    "rankings.stats",  # the community's charts
    "store.report",  # a store's day report and its export
)

_reading: ContextVar[bool] = ContextVar("pointsapp_replica_reads", default=False)


class RoutingSession(Session):
    """Flask-SQLAlchemy's session, sending plain SELECTs to the replica while reads() is on."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if (bind is None and _reading.get() and not self._flushing and isinstance(clause, Select)
                and clause._for_update_arg is None):
            engine = self._db.engines.get(BIND)
            if engine is not None:
                return engine
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


@contextmanager
def reads() -> Iterator[None]:
    """Plain SELECTs inside go to the replica, when there is one."""
    token = _reading.set(True)
    try:
        yield
    finally:
        _reading.reset(token)


def _from_replica(view: Callable) -> Callable:
    @functools.wraps(view)  # keeps the view's access policy
    def wrapped(*args, **kwargs):
        if request.method not in ("GET", "HEAD"):
            return view(*args, **kwargs)
        current_user._get_current_object()  # who is asking: read from the primary, before any replica read
        with reads():
            return view(*args, **kwargs)
    return wrapped


def init_app(app: Flask) -> None:
    """Route REPLICA_ENDPOINTS' reads to the replica, when DATABASE_REPLICA_URL is set."""
    if not app.config.get("DATABASE_REPLICA_URL"):
        return
    for endpoint in REPLICA_ENDPOINTS:
        app.view_functions[endpoint] = _from_replica(app.view_functions[endpoint])
