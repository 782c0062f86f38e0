"""The embedded database holds phones and ID digits: its file, its WAL and shared-memory files and the
instance folder are the owner's alone (finding 12), as the secret key file already was."""
import os
import stat

from sqlalchemy import text

from pointsapp import create_app


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_sqlite_database_and_its_folder_are_private(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("SECRET_KEY", "test-secret")
    instance = tmp_path / "instance"
    monkeypatch.setenv("POINTSAPP_INSTANCE", str(instance))
    old = os.umask(0o022)  # the usual umask, which made the file 0644
    try:
        app = create_app({"TESTING": True})
        from pointsapp.core.extensions import db

        with app.app_context():
            with db.engine.begin() as conn:
                conn.execute(text("CREATE TABLE t (x INTEGER)"))
                conn.execute(text("INSERT INTO t VALUES (1)"))
            files = {p.name: _mode(p) for p in instance.iterdir()}
            db.engine.dispose()
    finally:
        os.umask(old)
    assert _mode(instance) == 0o700
    assert files["pointsapp.sqlite"] == 0o600
    for name in ("pointsapp.sqlite-wal", "pointsapp.sqlite-shm"):
        if name in files:
            assert files[name] == 0o600, name
    assert "pointsapp.sqlite-wal" in files  # WAL mode: the test saw the files it is about


def test_a_second_app_on_a_database_in_use_leaves_its_locks_alone(tmp_path, monkeypatch):
    """Making an app opens nothing of a database that exists. Closing any descriptor of the file would drop
    this process's POSIX locks, SQLite's too; another process closing its last connection then took the
    database for unused and deleted the WAL under the first app's open connection: "database disk image is
    malformed" (it broke a CI run where a test made a second app on the suite's SQLite file)."""
    import subprocess
    import sys

    monkeypatch.setenv("SECRET_KEY", "test-secret")
    instance = tmp_path / "instance"
    monkeypatch.setenv("POINTSAPP_INSTANCE", str(instance))
    path = tmp_path / "busy.sqlite"
    url = f"sqlite:///{path}"
    first = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    from pointsapp.core.extensions import db

    with first.app_context():
        conn = db.engine.connect()  # held open, as a pool holds it
        try:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
            conn.commit()
            create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})  # a second app on the same file
            subprocess.run([sys.executable, "-c",
                            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                            "c.execute('INSERT INTO t VALUES (2)'); c.commit(); c.close()", str(path)], check=True)
            # the other process saw this one's connection: it left the WAL in place for it
            assert (tmp_path / "busy.sqlite-wal").exists()
            conn.execute(text("INSERT INTO t VALUES (3)"))
            conn.commit()
            assert conn.execute(text("PRAGMA quick_check")).scalar() == "ok"
            assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 3
        finally:
            conn.close()
            db.engine.dispose()
