"""Real concurrent requests for tests: threads, each with its own app context, session and connection,
committing at the end as a request would."""
import threading
from collections.abc import Callable

from pointsapp.core.errors import DomainError
from pointsapp.core.extensions import db as _db


def run_threads(app, *works: Callable[[], object], together: bool = False) -> list[tuple[str, object]]:
    """Run each work in its own thread. Per work: ("ok", value), (domain error code, None) or
    ("crash: …", None). `together`: all threads are released at once, before their first query (on
    SQLite a query begins the write transaction)."""
    _db.session.rollback()  # the test's own transaction must not hold anything the workers need
    results: list = [None] * len(works)
    barrier = threading.Barrier(len(works)) if together else None

    def run(i):
        with app.app_context():
            try:
                if barrier is not None:
                    barrier.wait()
                value = works[i]()
                _db.session.commit()
                results[i] = ("ok", value)
            except DomainError as exc:
                _db.session.rollback()
                results[i] = (exc.code, None)
            except Exception as exc:  # noqa: BLE001 - reported in the assertion, not swallowed
                _db.session.rollback()
                results[i] = (f"crash: {exc.__class__.__name__}: {str(exc)[:200]}", None)
            finally:
                _db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(works))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(r is not None for r in results), "a worker did not finish"
    _db.session.expire_all()
    return results
