"""A writer process for tests/test_backups.py: posts awards and redemptions for the given residents through
the ledger's posting service, one unit of work (and commit) each, as a gunicorn worker's requests do, until
the stop file appears.

    python -m tests.backup_writer DATABASE_URL STOP_FILE NOW_ISO RESIDENT_ID…
"""
import random
import sys
from datetime import datetime
from pathlib import Path


def main(url: str, stop: Path, now: datetime, ids: list[int]) -> None:
    from pointsapp.core.errors import DomainError
    from pointsapp.core.extensions import db
    from pointsapp.ledger.models import EntryKind
    from pointsapp.ledger.services import posting as ledger
    from pointsapp.ledger.services.posting import Posting
    from pointsapp.tree.models import Resident
    from tests.conftest import make_test_app

    app = make_test_app(url)
    rng, n = random.Random(99), 0
    while not stop.exists():
        n += 1
        amount = rng.choice((4, 6, -3, -5))
        kind, source = (EntryKind.AWARD, "attendance") if amount > 0 else (EntryKind.REDEMPTION, "redemption")
        with app.app_context():
            try:
                resident = db.session.get(Resident, rng.choice(ids))
                ledger.post(Posting(resident, amount, kind, source, f"proc-{n}", "志愿服务"), None, now)
                db.session.commit()
            except DomainError:  # not enough points: nothing written
                db.session.rollback()
            finally:
                db.session.remove()


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), datetime.fromisoformat(sys.argv[3]), [int(i) for i in sys.argv[4:]])
