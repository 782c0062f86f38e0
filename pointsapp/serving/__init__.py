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

    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)


def warm_up(app: Flask) -> int:
    """Compile every template once, in the master before it forks: each worker, and each worker that
    replaces one (max_requests), starts with them compiled instead of compiling each on its first use
    (79 templates: ~0.8 s of CPU on a quiet 2-core machine; a fresh worker's first page took 290 ms
    instead of 25). Returns how many were compiled."""
    names = app.jinja_env.list_templates(extensions=["html", "txt"])
    for name in names:
        app.jinja_env.get_template(name)
    return len(names)
