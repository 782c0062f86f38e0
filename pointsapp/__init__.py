"""pointsapp: community love points (爱心积分)."""
import os
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    """Application factory: config from the environment (or test_config), extensions, blueprints."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
        instance_path=os.environ.get("POINTSAPP_INSTANCE") or str(ROOT / "instance"),
    )
    from .core import config

    app.config.from_mapping(config.from_environment(app.instance_path))
    if test_config:
        app.config.update(test_config)
        if "SQLALCHEMY_DATABASE_URI" in test_config:
            app.config["SQLALCHEMY_DATABASE_URI"] = config.normalise_db_url(test_config["SQLALCHEMY_DATABASE_URI"])
    config.database_engines(app.config)
    from .core import (
        clock,
        dbroles,
        extensions,
        hosts,
        input_edge,
        localtime,
        locks,
        passwords,
        replica,
        security_headers,
        sqlite,
        static_files,
        uow,
        words,
    )
    from .core.lookup import IdConverter
    from .features import init_web, load_features, register_cli

    sqlite.make_private(app.config["SQLALCHEMY_DATABASE_URI"], app.instance_path)

    # before any blueprint: every <int:…> in a route is an id a database integer can hold
    app.url_map.converters["int"] = IdConverter

    load_features()

    hosts.init_app(app)
    security_headers.init_app(app)
    static_files.init_app(app)  # static URLs carry their content's hash; a year's cache for those
    input_edge.init_app(app)  # before CSRF and the access guard: nothing reads unreadable input
    clock.init_app(app)
    passwords.init_app(app)
    uow.init_app(app)
    app.add_template_filter(localtime.format_local, "local")
    app.add_template_filter(localtime.format_moment, "dt")  # dates in the reader's language
    app.add_template_filter(localtime.format_month, "month_label")
    app.add_template_filter(localtime.format_span, "span")  # start|span(end): the end's day when it differs
    app.add_template_filter(words.word, "word")  # default activity kinds and team categories, translated
    app.add_template_global(words.colon, "colon")
    app.add_template_global(words.list_sep, "list_sep")

    extensions.db.init_app(app)
    extensions.migrate.init_app(app, extensions.db, directory=str(ROOT / "migrations"), render_as_batch=True)
    extensions.csrf.init_app(app)
    with app.app_context():
        sqlite.install(extensions.db.engine)
        locks.install(extensions.db.engine, app)

    init_web(app)
    replica.init_app(app)  # after the blueprints: it wraps the views that read from the replica

    register_cli(app)
    dbroles.init_app(app)
    return app
