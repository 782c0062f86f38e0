"""Count the SQL statements a request issues, and fail a page that goes over its budget.

    with query_budget(12):
        client.get(url)

    with count_queries() as log:
        client.get(url)
    assert log.count == ...

What is counted: every statement sent through the app's engine (SQLAlchemy's `before_cursor_execute`
event) while a request is being handled (`flask.has_request_context()`), so the test's own set-up
queries and the test client's commit before each request are left out. Transaction control (BEGIN,
COMMIT, ROLLBACK, SAVEPOINT, RELEASE) is left out too: SQLite emits BEGIN through the engine
(core/sqlite.py) while PostgreSQL's driver begins by itself, and the two backends should count alike.
A statement run with executemany counts once.
"""
import re
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from flask import has_request_context
from sqlalchemy import event

from pointsapp.core.extensions import db as _db

_TRANSACTION_CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


@dataclass
class QueryLog:
    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)

    def report(self, limit: int = 60) -> str:
        """The statements, numbered, then the most repeated ones: an N+1 shows as one statement many times."""
        lines = [f"{i:3d}. {_one_line(s)}" for i, s in enumerate(self.statements[:limit], 1)]
        if self.count > limit:
            lines.append(f"     … and {self.count - limit} more")
        repeated = [(n, s) for s, n in Counter(_one_line(s) for s in self.statements).most_common(5) if n > 1]
        if repeated:
            lines.append("repeated:")
            lines += [f"  {n}× {s}" for n, s in repeated]
        return "\n".join(lines)


def _one_line(statement: str, width: int = 160) -> str:
    text = " ".join(statement.split())
    return text if len(text) <= width else text[: width - 1] + "…"


@contextmanager
def count_queries(engine=None) -> Iterator[QueryLog]:
    """Record the statements issued inside requests while the block runs (needs an app context unless
    `engine` is given)."""
    engine = engine if engine is not None else _db.engine
    log = QueryLog()

    def before_cursor_execute(_conn, _cursor, statement, _parameters, _context, _executemany):
        if has_request_context() and not _TRANSACTION_CONTROL.match(statement):
            log.statements.append(statement)

    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield log
    finally:
        event.remove(engine, "before_cursor_execute", before_cursor_execute)


@contextmanager
def query_budget(budget: int, engine=None) -> Iterator[QueryLog]:
    """Fail when the requests inside the block issue more than `budget` statements; lists them if so."""
    with count_queries(engine) as log:
        yield log
    assert log.count <= budget, f"{log.count} SQL statements, over the budget of {budget}:\n{log.report()}"
