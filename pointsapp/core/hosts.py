"""Which host the app is, whatever a request claims (issue 11, finding 7).

- `PUBLIC_BASE_URL` (https://jifen.example.cn): every absolute link and every printed or shown QR is
  built from it by `public_url()`, never from the request's Host header, so a request sent with
  `Host: evil.example` cannot make a poster that sends residents elsewhere.
- `TRUSTED_HOSTS`: the host of PUBLIC_BASE_URL plus the extra names configured (Flask 3.1 checks
  them); any other Host header is a 400 (`refused_host_page`).
- `PROXY_COUNT`: how many proxies (nginx) stand in front; ProxyFix then believes that many
  X-Forwarded-For / X-Forwarded-Proto values (the client's address for the login limits, https for
  HSTS and secure cookies). 0 (the default) believes none: without a proxy anybody can send them.
"""
from urllib.parse import urlsplit

from flask import Flask, current_app, url_for
from flask_babel import gettext as _
from markupsafe import escape
from werkzeug.middleware.proxy_fix import ProxyFix


def check_base_url(url: str) -> str:
    """scheme://host[:port] without a path, or ValueError at start-up (a typo must not reach a poster)."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") \
            or parts.query or parts.fragment or parts.username:
        raise ValueError(f"PUBLIC_BASE_URL must look like https://jifen.example.cn (no path), not {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def trusted_hosts(base_url: str, extra) -> list[str]:
    """The base URL's host first, then the extra names (a list or "a,b"), each once."""
    if isinstance(extra, str):
        extra = extra.split(",")
    names = [urlsplit(base_url).hostname, *(name.strip() for name in (extra or ()))]
    return list(dict.fromkeys(name for name in names if name))


def init_app(app: Flask) -> None:
    app.config["PUBLIC_BASE_URL"] = check_base_url(app.config["PUBLIC_BASE_URL"])
    app.config["TRUSTED_HOSTS"] = trusted_hosts(app.config["PUBLIC_BASE_URL"], app.config.get("TRUSTED_HOSTS"))
    proxies = int(app.config.get("PROXY_COUNT") or 0)
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
    app.add_template_global(public_url)


def public_url(endpoint: str, **values) -> str:
    """The absolute URL of an endpoint on the public site (PUBLIC_BASE_URL), for QR codes and slips."""
    return current_app.config["PUBLIC_BASE_URL"] + url_for(endpoint, **values)


def refused_host_page():
    """The answer to a Host header the app does not serve. Flask refused it before routing, so no URL
    can be built (the error template's links would fail): a bare page in the reader's language."""
    message = escape(_("The request could not be understood. Please go back and try again."))
    return f"<!doctype html><meta charset=utf-8><title>400</title><p>{message}</p>", 400


__all__ = ["check_base_url", "init_app", "public_url", "refused_host_page", "trusted_hosts"]
