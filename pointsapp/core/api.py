"""The JSON API at /api/v1: flask-smorest over the features' marshmallow schemas and their services.

Each feature that offers operations has an `api.py` with one or more `ApiBlueprint`s (their urls under
/api/v1/...); features.py registers them. What every operation shares lives here, once:

- **Who**: the session cookie (the app's own pages; CSRF checked on unsafe methods, from the
  X-CSRFToken header) or `Authorization: Bearer <token>` (other clients; no cookie, no CSRF). A token acts
  as its user with at most the token's roles, in its one community (and store): `permissions.scopes_of`
  applies the token's `TokenLimit`, so every `can()`/policy check a service or view makes honours it.
  Operations declare a policy with `@policy(...)` as pages do; a request that needs a login gets 401.
- **One error shape**: `{"error": {"code", "message", "details"}}`, the code a stable domain code, the
  message in the request's language (Accept-Language), never a 500 for bad input.
- **Idempotency-Key** on every unsafe operation (draft-ietf-httpapi-idempotency-key-header): the first
  response is stored and replayed (with `Idempotent-Replayed: true`); the same key with another request
  is 422 (`idempotency_key_reused`); a key whose first request is still running is waited for up to the
  lock timeout, then 409 (`idempotency_in_flight`). The features' domain keys stay underneath
  (integrations/services/idempotency.py).
- **Rate limits** per token (its own per-minute figure), per logged-in user and per address (Flask-Limiter,
  RATELIMIT_STORAGE_URI: Redis shared by every worker, or this process); refused tokens per address
  (API_RATE_LIMIT_BAD_TOKENS), counted before the operation's limit, which a refused token never reaches.

The store of tokens and idempotency records is the integrations feature's; features.py hands its
functions in (`init_app(app, hooks)`), so this module imports no feature.
"""
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask, current_app, g, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_smorest import Api as _SmorestApi
from flask_smorest import Blueprint as _SmorestBlueprint
from marshmallow import Schema, fields

from pointsapp.core import schemas as input_fields
from pointsapp.core.errors import DomainError, InvalidInput

PREFIX = "/api/v1"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
KEY_HEADER = "Idempotency-Key"
_KEY = re.compile(r'"([\x21\x23-\x7e]{1,255})"|([\x21\x23-\x7e]{1,255})')  # an sf-string (quoted), or bare
ERROR_STATUSES = (400, 401, 403, 404, 409, 422, 429, 503)


class Unauthenticated(DomainError):
    code = "unauthenticated"
    http_status = 401

    def __init__(self, message=None, **kwargs):
        super().__init__(message if message is not None else _l("Please log in, or send a valid API token."),
                         **kwargs)


class InvalidToken(Unauthenticated):
    code = "invalid_token"

    def __init__(self):
        super().__init__(_l("This API token is not valid: it is unknown, expired or revoked."))


class BadIdempotencyKey(InvalidInput):
    code = "invalid_idempotency_key"
    http_status = 400

    def __init__(self):
        super().__init__(_l("The Idempotency-Key header must be 1 to 255 printable ASCII characters."))


@dataclass
class Hooks:
    """What the integrations feature provides (features.py wires it)."""

    authenticate: Callable  # (secret, now, address) -> (user, token) or raises InvalidToken
    claim: Callable  # (owner, key, fingerprint, now) -> None (runs) or (status, body, content type, location)
    complete: Callable  # (owner, key, fingerprint, status, body, content_type, location, now) -> None


# ---- the smorest objects -------------------------------------------------------------------------


class ErrorDetailSchema(Schema):
    code = fields.String(required=True, metadata={"description": "A stable snake_case code, e.g. insufficient_points"})
    message = fields.String(required=True, metadata={"description": "In the request's language (Accept-Language)"})
    details = fields.Dict(required=True)


class ErrorSchema(Schema):
    error = fields.Nested(ErrorDetailSchema, required=True)


class Api(_SmorestApi):
    """flask-smorest's Api, answering errors in our one shape for API requests only (its own handler
    would take every HTTPException of the app, the HTML pages' too)."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        pass  # core.error_pages answers API requests with error_response()


class ApiBlueprint(_SmorestBlueprint):
    """A feature's group of operations: `ApiBlueprint("api_store", __name__, url_prefix="/api/v1/store")`."""




def is_api_request() -> bool:
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


# ---- the one error shape --------------------------------------------------------------------------

_HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
               422: "invalid_input", 429: "rate_limited", 500: "internal_error", 503: "busy"}
_HTTP_MESSAGES = {
    400: _l("The request could not be understood."),
    401: _l("Please log in, or send a valid API token."),
    403: _l("You do not have permission to do this."),
    404: _l("Not found."),
    405: _l("This operation does not take this method."),
    413: _l("The request is too large."),
    415: _l("Send the request body as JSON."),
    # 415 for an operation that takes a file (an import sheet)
    "files": _l("Send the file as multipart/form-data."),
    429: _l("Too many requests. Please wait a little and try again."),
    500: _l("Something went wrong on our side. Please try again."),
}


def plain(value):
    """A JSON-ready copy: lazy strings as text, sets and tuples as lists."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def error_response(status: int, code: str | None = None, message=None, details: dict | None = None,
                   headers: dict | None = None):
    code = code or _HTTP_CODES.get(status, "error")
    if message is None:
        message = _HTTP_MESSAGES.get(status, _HTTP_MESSAGES[500])
    response = jsonify({"error": {"code": code, "message": str(message), "details": plain(details or {})}})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def domain_error_response(exc: DomainError):
    details = {k: v for k, v in (exc.params or {}).items() if k not in ("label", "problem")}
    details.update(getattr(exc, "details", None) or {})
    headers = {"Retry-After": "2"} if exc.http_status == 503 else {}
    if exc.http_status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="pointsapp"'
    return error_response(exc.http_status, exc.code, str(exc), details, headers)


def http_error_response(exc):
    """A werkzeug HTTPException (404, 405, webargs' 422, Flask-Limiter's 429) in the one shape."""
    status = exc.code or 500
    if status == 405 and not _path_exists(getattr(exc, "valid_methods", None) or ()):
        status = 404  # werkzeug says 405 for a path whose id no route takes (/communities/0/…): it is not there
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages")
    if status == 422 and messages:  # webargs: {"json": {"field": ["msg"]}}
        return error_response(422, "invalid_input", _first_message(messages), {"fields": messages})
    headers = {}
    if status == 429:
        retry = getattr(exc, "retry_after", None)
        headers["Retry-After"] = str(int(retry)) if retry else "60"
    if status == 400 and messages:
        return error_response(400, "bad_request", _first_message(messages), {"fields": messages})
    return error_response(status, None, None, {}, headers)


def _path_exists(methods) -> bool:
    """Does some route take this path with one of `methods`?"""
    from werkzeug.exceptions import HTTPException as _Http
    adapter = current_app.url_map.bind_to_environ(request.environ)
    for method in methods:
        try:
            adapter.match(request.path, method=method)
            return True
        except _Http:
            continue
        except Exception:  # noqa: BLE001 - a redirect and the like: the path exists
            return True
    return False


def _first_message(messages) -> str:
    path = []
    while isinstance(messages, dict) and messages:
        key, messages = next(iter(messages.items()))
        if key not in ("json", "query", "form", "files", "headers", "view_args", "_schema"):
            path.append(str(key))
    while isinstance(messages, list) and messages:
        messages = messages[0]
        if isinstance(messages, dict):
            return _first_message(messages)
    return f"{'.'.join(path)}: {messages}" if path else str(messages)


# ---- who is asking -------------------------------------------------------------------------------


def current_token():
    """The API token of this request, if it came with one."""
    return g.get("api_token")


def _authenticate() -> None:
    """before_request: a bearer token on an API request names the user (the cookie is not read)."""
    if not is_api_request():
        return
    # the unit of work's SQLite begin mode for this request, before the token's query begins it (the guard,
    # which sets it for pages, runs later; the mode would otherwise be the thread's previous request's)
    from pointsapp.core import sqlite
    sqlite.set_read_only(request.method in ("GET", "HEAD", "OPTIONS"))
    header = request.headers.get("Authorization", "")
    if not header:
        return
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise InvalidToken()
    from pointsapp.core.clock import utcnow
    bad_tokens = _bad_token_limit()
    address = get_remote_address() or ""
    if not bad_tokens.limiter.test(bad_tokens.item, "api-bad-token", address):
        raise _TooManyBadTokens(bad_tokens)
    try:
        user, token = _hooks().authenticate(secret.strip(), utcnow(), request.remote_addr or "")
    except InvalidToken:
        bad_tokens.limiter.hit(bad_tokens.item, "api-bad-token", address)
        raise
    g._login_user = user  # Flask-Login's current_user for this request only: no session is written
    g.api_token = token


def _check_csrf() -> None:
    """before_request: the app's own pages call the API with their session cookie and X-CSRFToken."""
    if is_api_request() and request.method in UNSAFE and current_token() is None \
            and current_app.config.get("WTF_CSRF_ENABLED", True):
        from pointsapp.core.extensions import csrf
        csrf.protect()


# ---- rate limits ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _BadTokens:
    limiter: object  # the limits library's strategy, on Flask-Limiter's storage
    item: object  # the parsed API_RATE_LIMIT_BAD_TOKENS


def _bad_token_limit() -> _BadTokens:
    from limits import parse
    limiter = current_app.extensions["pointsapp.api_limiter"]
    return _BadTokens(limiter.limiter, parse(current_app.config.get("API_RATE_LIMIT_BAD_TOKENS", "30/minute")))


class _TooManyBadTokens(Exception):
    """Too many refused tokens from this address: 429 before the next one is looked up."""

    def __init__(self, bad: _BadTokens):
        super().__init__("too many refused API tokens")
        window = bad.limiter.get_window_stats(bad.item, "api-bad-token", get_remote_address() or "")
        from time import time
        self.retry_after = max(1, int(window.reset_time - time()) + 1)


def _limit_key() -> str:
    token = current_token()
    if token is not None:
        return f"token:{token.id}"
    from flask_login import current_user
    if current_user and current_user.is_authenticated:
        return f"user:{current_user.id}"
    return f"addr:{get_remote_address()}"


def _limit_value() -> str:
    token = current_token()
    if token is not None:
        return f"{token.rate_per_minute}/minute"
    from flask_login import current_user
    if current_user and current_user.is_authenticated:
        return current_app.config.get("API_RATE_LIMIT_USER", "600/minute")
    return current_app.config.get("API_RATE_LIMIT_ANONYMOUS", "120/minute")


# ---- idempotency -----------------------------------------------------------------------------------


def _owner() -> str | None:
    token = current_token()
    if token is not None:
        return f"token:{token.id}"
    from flask_login import current_user
    if current_user and current_user.is_authenticated:
        return f"user:{current_user.id}"
    return None


def domain_key(given: str | None) -> str:
    """The feature's own request key for an unsafe operation (a checkout's request id, an award's request key):
    the body's; else one made from the Idempotency-Key and its client (two clients' keys never meet); else a
    fresh one. Under 64 characters."""
    if given:
        return given
    raw = (request.headers.get(KEY_HEADER) or "").strip()
    owner = _owner()
    if raw and owner:
        return "key-" + hashlib.sha256(f"{owner}\n{raw}".encode()).hexdigest()[:40]
    return uuid.uuid4().hex


def _fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(f"{request.method} {request.full_path}\n".encode())
    digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _claim_key():
    """before_request (after the guard): the first request with this key goes on (its record written in its
    own transaction); a repeat is answered with the stored response, or 422 for a different request."""
    if not is_api_request() or request.method not in UNSAFE or request.endpoint is None:
        return None
    raw = request.headers.get(KEY_HEADER)
    if raw is None:
        return None
    found = _KEY.fullmatch(raw.strip())
    if not found:
        raise BadIdempotencyKey()
    owner = _owner()
    if owner is None:
        return None
    from pointsapp.core.clock import utcnow
    key, fingerprint = found[1] or found[2], _fingerprint()
    stored = _hooks().claim(owner, key, fingerprint, utcnow())
    if stored is None:
        g.idempotency = (owner, key, fingerprint)
        return None
    status, body, content_type, location = stored
    response = current_app.response_class(body or "", status=status, content_type=content_type or "application/json")
    if location:
        response.headers["Location"] = location
    response.headers["Idempotent-Replayed"] = "true"
    return response


TRANSIENT = frozenset({409, 429, 500, 502, 503, 504})  # not stored: the same key, sent again, runs again


SECRET_FIELDS = ("secret",)  # shown once (a webhook's signing secret): never kept in the replay store


def _without_secrets(response) -> str:
    """The body to keep for replay, with any secret blanked: a replay tells the request went through, it does
    not hand the secret out again for a day."""
    body = response.get_data(as_text=True)
    if response.is_json and any(f'"{name}"' in body for name in SECRET_FIELDS):
        data = response.get_json(silent=True)
        if isinstance(data, dict):
            for name in SECRET_FIELDS:
                if name in data:
                    data[name] = ""
            return json.dumps(data, ensure_ascii=False)
    return body


def _store_response(response):
    """after_request, before the unit of work's commit: the response joins the change's transaction."""
    claimed = g.pop("idempotency", None)
    if claimed is None or response.status_code in TRANSIENT:
        return response
    from pointsapp.core.clock import utcnow
    owner, key, fingerprint = claimed
    _hooks().complete(owner, key, fingerprint, response.status_code, _without_secrets(response),
                      response.content_type, response.headers.get("Location"), utcnow())
    return response


# ---- the OpenAPI document --------------------------------------------------------------------------


def _document_fields(spec_api: Api) -> None:
    """Our input fields (core.schemas) as OpenAPI types, with their bounds and choices."""
    plugin = spec_api.ma_plugin
    plugin.map_to_openapi_type(input_fields.Whole, "integer", None)
    plugin.map_to_openapi_type(input_fields.Id, "integer", None)
    plugin.map_to_openapi_type(input_fields.Text, "string", None)
    plugin.map_to_openapi_type(input_fields.Flag, "boolean", None)
    plugin.map_to_openapi_type(input_fields.Choice, "string", None)
    plugin.map_to_openapi_type(input_fields.Month, "string", None)
    plugin.map_to_openapi_type(input_fields.Day, "string", "date")

    def bounds(self, field, **kwargs):
        found = {}
        if isinstance(field, input_fields.Whole):
            found.update(minimum=field.min, maximum=field.max)
        if isinstance(field, input_fields.Choice):
            found["enum"] = list(field.choices)
        if isinstance(field, input_fields.Text) and field.max_length:
            found["maxLength"] = field.max_length
        if isinstance(field, input_fields.Month):
            found["pattern"] = r"^[0-9]{4}-[0-9]{2}$"
        return found

    plugin.converter.add_attribute_function(bounds)


@dataclass(frozen=True)
class Link:
    """An OpenAPI link: a `status` response of operation `source` names, as `name`, operation `target`, whose
    parameters are runtime expressions of that response (or its request), e.g. {"receipt_id": "$response.body#/id"}.
    Clients and schemathesis' stateful runs follow them (create -> read -> void)."""

    source: str
    status: int
    name: str
    target: str
    parameters: tuple = ()  # ((target parameter, expression), ...)
    request_body: object = None  # an expression or a JSON value with expressions, sent as the target's body
    description: str = ""


LINKS: list[Link] = []


def link(source: str, status: int, name: str, target: str, parameters: dict | None = None, *, request_body=None,
         description: str = "") -> None:
    """Declare a link in the feature's api.py, beside its operations (docs/api.md, "Links"). Operations are named
    by their operation id: the endpoint ("api_store.checkout"), or "<endpoint>.<method>" for a MethodView that
    serves several methods. A link naming no operation of the app fails tests/test_api_schemathesis.py."""
    LINKS.append(Link(source, status, name, target, tuple((parameters or {}).items()), request_body, description))


_RULE_ARG = re.compile(r"<(?:[^<>:]+:)?([^<>:]+)>")
METHODS = ("get", "post", "put", "patch", "delete")


def operations_of(app: Flask, spec: dict) -> dict:
    """(path, method) -> (operation id, view function) of every operation in the document, from the url map."""
    rules = {}
    for rule in app.url_map.iter_rules():
        rules.setdefault(_RULE_ARG.sub(r"{\1}", rule.rule), []).append(rule)
    found = {}
    for path, item in spec.get("paths", {}).items():
        for method in item:
            if method not in METHODS:
                continue
            for rule in rules.get(path, ()):
                if method.upper() in rule.methods:
                    served = [m for m in METHODS if m.upper() in rule.methods]
                    view = app.view_functions[rule.endpoint]
                    handler = getattr(getattr(view, "view_class", None), method, None)  # a MethodView's method
                    if getattr(handler, "access_policy", None) is not None:
                        view = handler
                    found[path, method] = (rule.endpoint if len(served) == 1 else f"{rule.endpoint}.{method}", view)
                    break
    return found


def _operation_ids_and_links(app: Flask, spec: dict) -> dict:
    """Every operation gets its operation id, no security requirement if its policy is PUBLIC, and its links."""
    by_id = {}
    for (path, method), (operation_id, view) in operations_of(app, spec).items():
        operation = spec["paths"][path][method]
        operation.setdefault("operationId", operation_id)
        by_id[operation["operationId"]] = operation
        if getattr(view, "access_policy", None) == "public":
            operation["security"] = []
    for declared in LINKS:
        source = by_id.get(declared.source)
        response = (source or {}).get("responses", {}).get(str(declared.status))
        if declared.target not in by_id or response is None or "$ref" in response:
            continue  # tests/test_api_schemathesis.py names every link that does not resolve
        found = {"operationId": declared.target, "parameters": dict(declared.parameters)}
        if declared.request_body is not None:
            found["requestBody"] = declared.request_body
        if declared.description:
            found["description"] = declared.description
        response.setdefault("links", {})[declared.name] = found
    return spec


def _schema_namer() -> Callable:
    """Component names: the class's name without "Schema", with the audience of an OutputSchema built for one
    ("Resident_office"); a second class of the same name in another feature is prefixed with its feature
    ("StoreFoundResidents"), so features need not coordinate their class names."""
    taken: dict[str, type] = {}

    def name_of(schema) -> str:
        cls = schema if isinstance(schema, type) else type(schema)
        name = cls.__name__.removesuffix("Schema") or cls.__name__
        view = None if isinstance(schema, type) else getattr(schema, "view", None)
        if view:
            name = f"{name}_{view}"
        if taken.setdefault(name, cls) is not cls:
            parts = cls.__module__.split(".")
            name = f"{(parts[1] if len(parts) > 1 else parts[0]).capitalize()}{name}"
            taken.setdefault(name, cls)
        return name

    return name_of


def _error_responses(spec: dict) -> dict:
    """Every operation may answer with the error shape and any of the statuses the API uses."""
    for path_item in spec.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            for status in ERROR_STATUSES + ((415,) if "requestBody" in operation else ()):
                responses.setdefault(str(status), {"$ref": "#/components/responses/Error"})
            responses.pop("default", None)
    return spec


# ---- wiring ----------------------------------------------------------------------------------------


def _hooks() -> Hooks:
    return current_app.extensions["pointsapp.api_hooks"]


def api_of(app: Flask) -> Api:
    return app.extensions["pointsapp.api"]


def init_app(app: Flask, hooks: Hooks, blueprints: list[ApiBlueprint]) -> None:
    """After the login manager and CSRF, before the access guard."""
    app.extensions["pointsapp.api_hooks"] = hooks
    app.config.setdefault("API_TITLE", "pointsapp")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_SPEC_OPTIONS", {
        "info": {"description": "The love-points (爱心积分) API: docs/api.md, /api/v1/docs."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                                "cookie": {"type": "apiKey", "in": "cookie", "name": "session"}},
            "responses": {"Error": {"description": "The one error shape",
                                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
        },
        "security": [{"bearer": []}, {"cookie": []}],
    })
    app.before_request(_authenticate)
    from apispec.ext.marshmallow import MarshmallowPlugin
    api = app.extensions["pointsapp.api"] = Api(app, spec_kwargs={
        "marshmallow_plugin": MarshmallowPlugin(schema_name_resolver=_schema_namer())})
    limiter = Limiter(key_func=_limit_key, strategy="moving-window", headers_enabled=True)
    _document_fields(api)
    from pointsapp.core.extensions import csrf
    every_operation = limiter.shared_limit(_limit_value, scope="api", key_func=_limit_key)
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
        every_operation(blueprint)
        csrf.exempt(blueprint)
    _serve_document(app)
    for endpoint, view in list(app.view_functions.items()):
        if endpoint.startswith("api-docs.") and getattr(view, "access_policy", None) is None:
            app.view_functions[endpoint] = _public(view)
    app.before_request(_check_csrf)
    limiter.init_app(app)
    app.extensions["pointsapp.api_limiter"] = limiter

    @app.errorhandler(_TooManyBadTokens)
    def _too_many_bad_tokens(exc):
        return error_response(429, "rate_limited", None, {}, {"Retry-After": str(exc.retry_after)})


def _body_locations() -> set[str]:
    """Where the operation of this request reads its body from (smorest's argument docs): json, form, files."""
    view = current_app.view_functions.get(request.endpoint)
    parameters = (getattr(view, "_apidoc", None) or {}).get("arguments", {}).get("parameters", [])
    return {p.get("in") for p in parameters} & {"json", "form", "files"}


def _has_body() -> bool:
    """Whether the request carries a body, told by its headers (an upload is not read into memory here)."""
    if request.content_length is not None:
        return request.content_length > 0
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def _check_media_type():
    """before_request (after the guard): a body the operation would not read is 415, not an empty request run
    with its defaults (a form post to a JSON operation was read as {}, a JSON body to an upload as no file)."""
    if not is_api_request() or request.method not in UNSAFE or request.endpoint is None:
        return None
    wanted = _body_locations()
    if not wanted or not _has_body():
        return None  # nothing read from the body, or nothing sent: the schema says what is missing
    mimetype = request.mimetype
    if "json" in wanted and not request.is_json:
        return error_response(415)
    if "files" in wanted and mimetype != "multipart/form-data":
        return error_response(415, message=_HTTP_MESSAGES["files"])
    if "form" in wanted and mimetype not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return error_response(415, message=_HTTP_MESSAGES["files"])
    return None


def finish_init(app: Flask) -> None:
    """After the access guard: the body's media type is checked and the Idempotency-Key claimed only for a
    request that may run."""
    app.before_request(_check_media_type)
    app.before_request(_claim_key)
    app.after_request(_store_response)  # registered after the unit of work's: runs before its commit


def _public(view):
    def public_view(*args, **kwargs):
        return view(*args, **kwargs)

    public_view.access_policy = "public"
    return public_view


def _serve_document(app: Flask) -> None:
    view = app.view_functions.get("api-docs.openapi_json")
    if view is None:
        return

    def openapi_json():
        spec = _operation_ids_and_links(app, _error_responses(api_of(app).spec.to_dict()))
        return current_app.response_class(json.dumps(spec, ensure_ascii=False), mimetype="application/json")

    openapi_json.access_policy = "public"
    app.view_functions["api-docs.openapi_json"] = openapi_json


__all__ = ["LINKS", "PREFIX", "Api", "ApiBlueprint", "Hooks", "InvalidToken", "Link", "Unauthenticated", "api_of", "current_token",
           "domain_error_response", "error_response", "finish_init", "http_error_response", "init_app",
           "is_api_request", "link", "operations_of"]
