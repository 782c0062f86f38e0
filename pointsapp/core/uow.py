"""One unit of work per request or command (as Indico's RH.process()).

Services flush, never commit. The unit of work commits once at the end and rolls back on any
exception; side effects registered with `after_commit()` (file deletes, later notifications) run
only once the commit has succeeded, and are dropped on rollback.

- Requests: `init_app()` commits in `after_request` and rolls back when the view raised; the error
  handlers in core.error_pages call `abandon()` (or `finish()` for a DomainError that keeps its
  changes). Views call `attempt(action)` to turn a DomainError into a flash message.
- Commands and scripts: `with unit_of_work(): …`.

A DomainError with `keep_changes = True` (the PIN failure counter) is a refusal whose record must stay:
the unit of work commits what was written before it was raised, then the error goes on as usual.
"""
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import click
from flask import Flask, flash, session

from pointsapp.core.errors import Busy, DomainError
from pointsapp.core.extensions import db
from pointsapp.core.locks import is_busy

T = TypeVar("T")
_EFFECTS = "pointsapp.after_commit"


def after_commit(effect: Callable[[], None]) -> None:
    """Run `effect` once the current unit of work has committed (never if it rolls back)."""
    db.session.info.setdefault(_EFFECTS, []).append(effect)


def finish() -> None:
    """Commit the unit of work, then run its after-commit effects."""
    try:
        db.session.commit()
    except Exception:
        abandon()
        raise
    for effect in db.session.info.pop(_EFFECTS, []):
        effect()


def abandon() -> None:
    """Roll the unit of work back and forget its effects."""
    db.session.rollback()
    db.session.info.pop(_EFFECTS, None)


def settle(exc: BaseException) -> None:
    """End the unit of work after `exc`: commit when it is a DomainError that keeps its changes."""
    if isinstance(exc, DomainError) and exc.keep_changes:
        finish()
    else:
        abandon()


@contextmanager
def unit_of_work() -> Iterator[None]:
    """For CLI commands and scripts: commit at the end, roll back (or settle) on an exception."""
    try:
        yield
    except BaseException as exc:
        settle(exc)
        raise
    finish()


@contextmanager
def command_unit_of_work() -> Iterator[None]:
    """unit_of_work() for CLI commands: a refusal, or a database too busy to answer, is one line on stderr
    and exit code 1, not a traceback."""
    try:
        with unit_of_work():
            yield
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc
    except Exception as exc:
        if is_busy(exc):
            raise click.ClickException(str(Busy())) from exc
        raise


def attempt(action: Callable[[], T], success: str | None = None) -> tuple[bool, T | None]:
    """Run a view's action. A DomainError ends the unit of work (rolled back, or committed when it keeps
    its changes) and becomes a flash message; the request's end commits a success."""
    try:
        result = action()
    except DomainError as exc:
        settle(exc)
        flash(str(exc), "error")
        return False, None
    if success:
        flash(success, "success")
    return True, result


def init_app(app: Flask) -> None:
    @app.after_request
    def _commit(response):
        try:
            finish()
        except Exception as exc:
            session.pop("_flashes", None)  # a "saved" message must not outlive a failed commit
            if not is_busy(exc):
                raise
            # the commit found the database busy (rolled back by finish()): answer "try again", not a 500
            return app.make_response(app.handle_user_exception(Busy()))
        return response

    @app.teardown_request
    def _rollback(exc):
        if exc is not None:
            abandon()
