"""Language choice: Simplified Chinese by default, English on request."""
from flask import Blueprint, Flask, has_request_context, redirect, request, session, url_for
from flask_babel import get_locale

from pointsapp.core.permissions import PUBLIC, policy
from pointsapp.core.web import safe_path

LANGUAGES = {"zh": "中文", "en": "English"}
HTML_LANG = {"zh": "zh-CN", "en": "en"}

bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    if not has_request_context():  # CLI commands and services run outside a request: the default
        return "zh"
    if request.path.startswith("/api/"):  # API clients say which language they read
        return request.accept_languages.best_match(tuple(LANGUAGES), default="zh")
    lang = session.get("lang")
    return lang if lang in LANGUAGES else "zh"


@bp.route("/lang/<code>", methods=["POST"])
@policy(PUBLIC)
def set_language(code: str):
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(safe_path(request.form.get("next"), url_for("home.index")))


def init_app(app: Flask) -> None:
    @app.context_processor
    def _language():
        code = str(get_locale() or "zh")
        code = "zh" if code.startswith("zh") else code
        return {"languages": LANGUAGES, "current_lang": code, "html_lang": HTML_LANG.get(code, "zh-CN")}
