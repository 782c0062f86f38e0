"""One unit of work per request and per command: commit once at the end, roll back on any exception,
side effects only after the commit, and refusals that must leave a record (keep_changes) committed."""
import pytest
from flask import get_flashed_messages
from sqlalchemy import create_engine, func, select, text

from pointsapp.core.errors import DomainError
from pointsapp.core.extensions import db as _db
from pointsapp.core.permissions import PUBLIC, policy
from pointsapp.core.uow import after_commit, attempt, unit_of_work
from pointsapp.tree.models import Subdistrict

from .conftest import make_test_app


class Kept(DomainError):
    code = "kept"
    keep_changes = True


@pytest.fixture(scope="module")
def uow_app(database_url):
    """An app of its own, with routes that write, refuse, fail and register effects."""
    app = make_test_app(database_url, FRIENDLY_500_IN_TESTS=True)
    seen: list = []
    app.config["seen"] = seen

    def outside_count(name: str) -> int:
        """Count from another connection: what a second request would see, i.e. what was committed."""
        engine = create_engine(_db.engine.url)
        with engine.connect() as conn:
            n = conn.execute(text("SELECT count(*) FROM subdistrict WHERE name = :n"), {"n": name}).scalar()
        engine.dispose()
        return n

    @app.route("/t/<name>/<mode>", methods=["POST"])
    @policy(PUBLIC)
    def write(name: str, mode: str):
        def action():
            _db.session.add(Subdistrict(name=name, city="莱阳市"))
            _db.session.flush()
            after_commit(lambda: seen.append((name, outside_count(name))))
            if mode == "refuse":
                raise DomainError("不行", code="refused")
            if mode == "keep":
                raise Kept("记下了")
            if mode == "crash":
                raise RuntimeError("boom")
            return name

        ok, _ = attempt(action, "已保存")
        return {"ok": ok, "flashes": get_flashed_messages()}

    with app.app_context():
        _db.engine.dispose()
    yield app
    with app.app_context():
        _db.engine.dispose()


def _count(name):
    return _db.session.scalar(select(func.count()).select_from(Subdistrict).where(Subdistrict.name == name))


def test_a_request_commits_once_at_the_end_and_effects_run_after_the_commit(uow_app, db):
    seen = uow_app.config["seen"]
    seen.clear()
    response = uow_app.test_client().post("/t/城厢街道/ok")
    assert response.json == {"ok": True, "flashes": ["已保存"]}
    assert _count("城厢街道") == 1
    assert seen == [("城厢街道", 1)]  # the effect ran once the row was visible to everyone


def test_a_refusal_rolls_back_what_the_action_wrote_and_drops_its_effects(uow_app, db):
    seen = uow_app.config["seen"]
    seen.clear()
    response = uow_app.test_client().post("/t/古柳街道/refuse")
    assert response.json == {"ok": False, "flashes": ["不行"]}
    assert _count("古柳街道") == 0 and seen == []


def test_a_refusal_that_keeps_its_record_commits_it(uow_app, db):
    seen = uow_app.config["seen"]
    seen.clear()
    response = uow_app.test_client().post("/t/龙旺庄街道/keep")
    assert response.json["ok"] is False
    assert _count("龙旺庄街道") == 1 and seen == [("龙旺庄街道", 1)]


def test_an_unexpected_error_rolls_back_and_shows_the_friendly_page(uow_app, db):
    seen = uow_app.config["seen"]
    seen.clear()
    response = uow_app.test_client().post("/t/冯格庄街道/crash")
    assert response.status_code == 500 and "社区" in response.get_data(as_text=True)
    assert _count("冯格庄街道") == 0 and seen == []


def test_a_command_unit_of_work_commits_or_rolls_back(db):
    with unit_of_work():
        db.session.add(Subdistrict(name="柏林庄街道", city="莱阳市"))
    with pytest.raises(RuntimeError), unit_of_work():
        db.session.add(Subdistrict(name="沐浴店镇", city="莱阳市"))
        raise RuntimeError("disk full")
    assert _count("柏林庄街道") == 1 and _count("沐浴店镇") == 0


@pytest.mark.parametrize("trouble", ["refusal", "locked"])
def test_a_command_that_is_refused_or_finds_the_database_busy_says_so_in_one_line(app, db, trouble):
    import sqlite3

    import click
    from sqlalchemy.exc import OperationalError

    from pointsapp.core.uow import command_unit_of_work

    @click.command("t-refused")
    def refused():
        with command_unit_of_work():
            db.session.add(Subdistrict(name="姜疃镇", city="莱阳市"))
            if trouble == "refusal":
                raise DomainError("不行", code="refused")
            raise OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked"))

    result = app.test_cli_runner().invoke(refused)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert ("不行" if trouble == "refusal" else "系统繁忙") in result.output
    assert _count("姜疃镇") == 0
