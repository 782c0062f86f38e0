"""core/identity.py: reference rows stay loaded for the unit of work (a community read twice costs one
statement, even when nobody holds it in between) and are let go when the unit of work ends."""
import gc

from pointsapp.core import identity
from pointsapp.tree.models import Community

from .querycount import count_queries


def _statements(app, work) -> int:
    with app.test_request_context(), count_queries() as log:
        work()
    return log.count


def test_a_community_dropped_and_read_again_in_one_unit_of_work_is_read_once(app, db, make):
    cid = make.community().id
    db.session.commit()
    db.session.expunge_all()

    def twice():
        db.session.get(Community, cid).award_ceiling  # noqa: B018  (read, then dropped)
        gc.collect()  # the identity map's weak reference alone would lose it here
        with db.session.begin_nested():
            pass  # a savepoint's end is not the unit of work's
        db.session.get(Community, cid).award_ceiling  # noqa: B018
    assert _statements(app, twice) == 1


def test_kept_rows_are_let_go_when_the_unit_of_work_commits_or_rolls_back(db, make):
    cid = make.community().id
    db.session.commit()
    for end in (db.session.commit, db.session.rollback):
        db.session.expunge_all()
        db.session.get(Community, cid)
        assert db.session.info.get(identity._KEPT)
        end()
        assert db.session.info.get(identity._KEPT) is None, end
