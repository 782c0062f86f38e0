"""Running the app in production: the gunicorn configuration (`gunicorn_conf.py`) and what its hooks call.

    gunicorn -c python:pointsapp.serving.gunicorn_conf 'pointsapp:create_app()'     # what `make serve` runs

Not a feature: nothing here is imported by the app itself; tests/test_layers.py knows this package as
deployment wiring.
"""
from flask import Flask


def after_fork(app: Flask) -> None:
    """In a freshly forked worker: forget the database connections the master's pool may hold.

    With `preload_app` the app (and its SQLAlchemy engine) is built once in the master and every worker is a
    fork of it. A connection the master opened (nothing in create_app() opens one today, but a start-up
    check or a future hook could) would then be one socket shared by several processes, whose queries and
    answers interleave. `dispose(close=False)` gives the worker a new, empty pool and leaves the inherited
    connections alone (closing them here would close the master's too): SQLAlchemy's recipe for forks
    ("Using Connection Pools with Multiprocessing or os.fork()").
    """
    from pointsapp.core.extensions import db

    if "sqlalchemy" not in app.extensions:  # another WSGI app under this config (the benchmark's baseline)
        return
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)

