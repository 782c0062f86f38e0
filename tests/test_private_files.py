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
