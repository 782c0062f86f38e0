"""The API keeps its own contract: schemathesis against the app's OpenAPI document, through WSGI, on both
databases, with every operation of the final app found in the document (none named here).

- A seeded world (a community with residents, a store with products, a team with an activity, an office
  member) and a bearer token per role (resident, team lead, clerk, community admin). Each operation runs as
  the roles its policy admits (the view's `@policy`, read from the url map), and its path ids are the
  world's half of the time (the rest are generated), so the runs reach the real code, not only 401s/404s.
- Checks on every response: not_a_server_error, status_code_conformance, content_type_conformance,
  response_schema_conformance. Failures are collected over all operations, then reported together.
- The stateful run follows the document's links (core/api.py `link()`; docs/api.md "Links").
- Derandomized (hypothesis derandomize=True) and bounded (EXAMPLES per operation, STATEFUL_* for the state
  machine; API_FUZZ_EXAMPLES overrides) so CI is reproducible; the figures are printed and written to
  api-fuzz-<backend>.txt in the test's tmp dir.
- Plain checks: every operation has a summary, a documented 2xx schema, and a security requirement unless
  its policy is PUBLIC; every declared link resolves to operations of the app and their parameters.
"""
import json
import os
import re
import time
from collections import Counter
from datetime import timedelta

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pointsapp.core import api as core_api
from pointsapp.core.extensions import db as _db

from .api_helpers import token_for
from .conftest import _wipe
from .factories import Factory

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "25"))  # per operation
STATEFUL_EXAMPLES = int(os.environ.get("API_FUZZ_STATEFUL_EXAMPLES", "30"))
STATEFUL_STEPS = 6
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
METHODS = ("get", "post", "put", "patch", "delete")

# who may call an operation, by its view's policy (core.permissions); None: anonymous
ROLES_OF_POLICY = {"public": [None, "resident"], "authenticated": ["resident", "lead", "clerk", "admin"],
                   "resident": ["resident"], "staff": ["lead", "clerk", "admin"], "community_admin": ["admin"],
                   "city_admin": ["admin"]}
# the role a stateful run takes for a path (the first that the policy admits)
ROLE_HINTS = (("/stores", "clerk"), ("/teams", "lead"), ("/activities", "lead"), ("/attendance", "lead"),
              ("/communities", "admin"), ("/me", "resident"), ("/checkin", "resident"))


def _settings(examples: int, **extra) -> hypothesis.settings:
    return hypothesis.settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                               phases=[Phase.explicit, Phase.generate],  # no shrinking: failures are collected
                               suppress_health_check=list(HealthCheck), **extra)


@pytest.fixture
def seeded(app, clock, now):
    """The world and a token per role; committed, and no app context held (schemathesis' requests make their own)."""
    from pointsapp.store.services import catalogue as store_service
    from pointsapp.store.services import counter
    from pointsapp.volunteering.services import activities, checkin

    with app.app_context():
        make = Factory(_db, now)
        community = make.community("梨园社区")
        building = make.building(community, "3号楼")
        household = make.household(building=building, unit="1", room="301")
        resident_user = make.resident_user(household=household)
        neighbour = make.resident(household, name="王秀英", phone="13900001111")
        lead = make.team_lead(community)
        team = lead.grants[0].team
        activity = activities.create_activity(lead, team, activities.ActivityFields(
            title="楼道广告清理", kind="楼道广告清理", place="3号楼", starts_at=now - timedelta(minutes=30),
            ends_at=now + timedelta(hours=2)), now)
        attendance = checkin.check_in(resident_user, resident_user.resident, activity, now).attendance
        clerk = make.clerk(community)
        store = clerk.grants[0].store
        admin = make.admin(community)
        products = [store_service.create_product(admin, store, store_service.ProductFields(name=name, price=price),
                                                 50, now) for name, price in (("挂面", 5), ("花生油", 20))]
        from pointsapp.ledger.models import EntryKind
        from pointsapp.ledger.services.posting import Posting, post
        post(Posting(resident_user.resident, 500, EntryKind.AWARD, "attendance", "fuzz-world"), None, now)
        sale = counter.redeem(clerk, store, make.identified(clerk, store, resident_user.resident).id,
                              counter.Cart({products[0].id: 1}), "fuzz-sale", now).redemption
        _db.session.commit()
        holders = {"resident": (resident_user.id, "resident"), "lead": (lead.id, "team_lead"),
                   "clerk": (clerk.id, "clerk"), "admin": (admin.id, "community_admin")}
        community_id = community.id
        ids = {"community_id": community.id, "building_id": building.id, "household_id": household.id,
               "resident_id": resident_user.resident_id, "user_id": resident_user.id, "team_id": team.id,
               "activity_id": activity.id, "attendance_id": attendance.id, "store_id": store.id,
               "product_id": products[0].id, "redemption_id": sale.id, "receipt_id": sale.id,
               "neighbour_id": neighbour.id}
        _db.session.remove()
    tokens: dict = {None: None}

    def fresh_tokens():
        """A new token per role (an operation may have revoked one: a token may revoke itself)."""
        from pointsapp.accounts.models import User
        with app.app_context():
            for role, (user_id, granted) in holders.items():
                tokens[role] = token_for(_db.session.get(User, user_id), community_id, [granted])
            _db.session.remove()

    fresh_tokens()
    with app.app_context():  # a spare token of the resident's, for the operations on tokens to find
        from sqlalchemy import select

        from pointsapp.accounts.models import User
        from pointsapp.integrations.models import ApiToken
        spare = token_for(_db.session.get(User, holders["resident"][0]), community_id, ["resident"])
        ids["token_id"] = _db.session.scalar(select(ApiToken.id).where(ApiToken.prefix == spare[:10]))
        _db.session.remove()
    limit = app.config.get("API_RATE_LIMIT_ANONYMOUS")
    app.config["API_RATE_LIMIT_ANONYMOUS"] = "100000/minute"  # public operations are called anonymously, often
    yield tokens, ids, fresh_tokens
    app.config["API_RATE_LIMIT_ANONYMOUS"] = limit
    if limit is None:
        del app.config["API_RATE_LIMIT_ANONYMOUS"]
    _wipe(app)


def _document(app) -> dict:
    with app.test_client() as client:
        return client.get("/api/v1/openapi.json").get_json()


def _policies(app, document) -> dict:
    """(METHOD, path) -> the policy of the operation's view."""
    with app.app_context():
        found = core_api.operations_of(app, document)
    return {(method.upper(), path): getattr(view, "access_policy", None) for (path, method), (_, view) in found.items()}


def _roles(policy) -> list:
    return ROLES_OF_POLICY.get(policy, ["resident", "lead", "clerk", "admin"])


def _stateful_role(path: str, policy) -> str | None:
    allowed = _roles(policy)
    for fragment, role in ROLE_HINTS:
        if fragment in path and role in allowed:
            return role
    return allowed[0]


def _headers(tokens, role) -> dict:
    return {"Authorization": f"Bearer {tokens[role]}"} if tokens.get(role) else {}


def _describe(case, role, error) -> str:
    return f"{case.operation.label} as {role or 'anonymous'}: {str(error).strip()[:1500]}\n  {case.as_curl_command()}"


def test_every_operation_keeps_its_contract(app, backend, seeded, tmp_path):
    tokens, ids, fresh_tokens = seeded
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    policies = _policies(app, _document(app))
    figures = {"operations": 0, "examples": 0, "failures": 0, "statuses": Counter(), "roles": Counter(),
               "modes": Counter()}
    failures: list[str] = []
    started = time.monotonic()

    operations = [result.ok() for result in schema.get_all_operations()]
    # reads first, deletions last (a deleted product would turn later runs into 404s); fresh tokens for every
    # operation (one revoked by the run before would turn this one's into 401s)
    order = {"get": 0, "delete": 2}
    for operation in sorted(operations, key=lambda o: order.get(o.method.lower(), 1)):
        figures["operations"] += 1
        fresh_tokens()
        raw = operation.definition.raw
        _fuzz(operation, _roles(policies.get((operation.method.upper(), operation.path))), tokens, ids, figures,
              failures, negative="{" in operation.path or bool(raw.get("parameters") or raw.get("requestBody")))

    figures["failures"] = len(failures)
    figures["seconds"] = round(time.monotonic() - started, 1)
    _report(tmp_path / f"api-fuzz-{backend}.txt", "stateless", backend, figures, failures)
    assert figures["operations"] > 0
    assert failures == [], "\n\n".join(failures)


def _fuzz(operation, roles, tokens, ids, figures, failures, negative: bool) -> None:
    """EXAMPLES generated requests to one operation, each as one of `roles`, valid input and (when it takes
    any) invalid input; failures collected, not raised."""
    seen: set[str] = set()
    cases = operation.as_strategy(GenerationMode.POSITIVE)
    if negative:
        cases = st.one_of(cases, operation.as_strategy(GenerationMode.NEGATIVE))

    @_settings(EXAMPLES)
    @given(case=cases, role=st.sampled_from(roles), world=st.booleans())
    def run(case, role, world):
        figures["modes"][str(case.meta.generation.mode) if case.meta else "?"] += 1
        if world:  # the seeded world's ids, so the operation gets past its 404s
            for name in list(case.path_parameters or {}):
                if name in ids:
                    case.path_parameters[name] = ids[name]
        figures["examples"] += 1
        figures["roles"][role or "anonymous"] += 1
        response = case.call(headers=_headers(tokens, role))
        figures["statuses"][f"{operation.method.upper()} {response.status_code}"] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=_headers(tokens, role))
        except AssertionError as error:  # schemathesis' FailureGroup and its single failures
            key = f"{type(error).__name__} {str(error)[:200]}"
            if key not in seen:
                seen.add(key)
                failures.append(_describe(case, role, error))

    run()


def test_stateful_runs_follow_the_links(app, backend, seeded, tmp_path):
    tokens, ids, fresh_tokens = seeded
    document = _document(app)
    if not _linked(document):
        pytest.skip("the document declares no links yet (core/api.py link())")
    figures, failures = _run_stateful(app, document, tokens, ids)
    _report(tmp_path / f"api-fuzz-stateful-{backend}.txt", "stateful", backend, figures, failures)
    assert figures["linked_steps"] > 0, "no step followed a link"
    assert failures == [], "\n\n".join(failures)


def _linked(document) -> list:
    return [(path, method) for path, item in document["paths"].items() for method, operation in item.items()
            if method in METHODS and any(r.get("links") for r in operation.get("responses", {}).values())]


def _run_stateful(app, document, tokens, ids):
    """schemathesis' state machine over the document's links, each step as the role its path suggests."""
    from schemathesis.generation.stateful.state_machine import StepOutput

    policies = _policies(app, document)
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    figures = {"links": sum(len(r.get("links", {})) for p, m in _linked(document)
                            for r in document["paths"][p][m]["responses"].values()),
               "scenarios": 0, "steps": 0, "linked_steps": 0, "statuses": Counter(), "failures": 0}
    failures: list[str] = []
    started = time.monotonic()

    class Machine(schema.as_state_machine()):
        def setup(self):
            figures["scenarios"] += 1

        def step(self, input):
            case = input.case
            role = _stateful_role(case.operation.path, policies.get((case.operation.method.upper(), case.operation.path)))
            if input.transition is None:  # a first step: the world's ids
                for name in list(case.path_parameters or {}):
                    if name in ids:
                        case.path_parameters[name] = ids[name]
            elif input.is_applied:
                figures["linked_steps"] += 1
            figures["steps"] += 1
            response = case.call(headers=_headers(tokens, role))
            figures["statuses"][f"{case.operation.method.upper()} {response.status_code}"] += 1
            self.after_call(response, case)
            try:
                case.validate_response(response, checks=CHECKS, headers=_headers(tokens, role))
            except AssertionError as error:
                failures.append(_describe(case, role, error))
            return StepOutput(response, case)

    Machine.run(settings=_settings(STATEFUL_EXAMPLES, stateful_step_count=STATEFUL_STEPS))
    figures["failures"] = len(failures)
    figures["seconds"] = round(time.monotonic() - started, 1)
    return figures, failures


# ---- the mechanism, on a small app of its own: links declared with link() reach the document and the runs


@pytest.fixture
def linked_app(database_url, monkeypatch):
    """The app with two more operations, create -> read, joined by a link()."""
    from marshmallow import Schema, fields

    from pointsapp import features
    from pointsapp.core.api import ApiBlueprint, link
    from pointsapp.core.permissions import PUBLIC, policy

    from .conftest import make_test_app

    bp = ApiBlueprint("api_linkdemo", __name__, url_prefix="/api/v1/linkdemo", description="Links, tested")
    notes: dict[int, str] = {}

    class NoteIn(Schema):
        text = fields.String(required=True)

    class Note(Schema):
        id = fields.Integer(required=True)
        text = fields.String(required=True)

    @bp.route("", methods=["POST"])
    @bp.arguments(NoteIn, location="json")
    @bp.response(201, Note)
    @policy(PUBLIC)
    def create_note(data):
        """Make a note."""
        notes[len(notes) + 1] = data["text"]
        return {"id": len(notes), "text": data["text"]}

    @bp.route("/<int:note_id>")
    @bp.response(200, Note)
    @policy(PUBLIC)
    def read_note(note_id):
        """Read a note."""
        if note_id not in notes:
            from pointsapp.core.errors import NotFound
            raise NotFound()
        return {"id": note_id, "text": notes[note_id]}

    real = features.api_blueprints
    monkeypatch.setattr(features, "api_blueprints", lambda: [*real(), bp])
    monkeypatch.setattr(core_api, "LINKS", list(core_api.LINKS))
    link("api_linkdemo.create_note", 201, "read", "api_linkdemo.read_note", {"note_id": "$response.body#/id"},
         description="The note just made")
    made = make_test_app(database_url, API_RATE_LIMIT_ANONYMOUS="100000/minute")
    return made, notes


def test_a_declared_link_is_in_the_document_and_the_stateful_run_follows_it(linked_app, backend, tmp_path):
    app, notes = linked_app
    document = _document(app)
    post = document["paths"]["/api/v1/linkdemo"]["post"]
    assert post["operationId"] == "api_linkdemo.create_note"
    assert post["security"] == []  # public: no credentials asked for
    assert post["responses"]["201"]["links"] == {"read": {
        "operationId": "api_linkdemo.read_note", "parameters": {"note_id": "$response.body#/id"},
        "description": "The note just made"}}
    figures, failures = _run_stateful(app, document, {None: None}, {})
    _report(tmp_path / f"api-fuzz-linkdemo-{backend}.txt", "stateful (link demo)", backend, figures, failures)
    assert failures == [], "\n\n".join(failures)
    assert figures["linked_steps"] > 0 and figures["statuses"]["GET 200"] > 0, figures  # read what it made

    # and the stateless run, with valid and invalid bodies and ids
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    stateless = {"operations": 0, "examples": 0, "statuses": Counter(), "roles": Counter(), "modes": Counter()}
    for result in schema.get_all_operations():
        operation = result.ok()
        if "linkdemo" in operation.path:
            stateless["operations"] += 1
            _fuzz(operation, [None], {None: None}, {}, stateless, failures, negative=True)
    _report(tmp_path / f"api-fuzz-linkdemo-stateless-{backend}.txt", "stateless (link demo)", backend, stateless,
            failures)
    assert failures == [], "\n\n".join(failures)
    assert stateless["modes"]["negative"] > 0 and stateless["statuses"]["POST 201"] > 0, stateless


def _report(path, kind, backend, figures, failures) -> None:
    lines = [f"schemathesis {kind} on {backend}: "
             + ", ".join(f"{k} {v}" for k, v in figures.items() if not isinstance(v, Counter))]
    for name, value in figures.items():
        if isinstance(value, Counter):
            lines.append(f"  {name}: " + ", ".join(f"{k} x{n}" for k, n in sorted(value.items())))
    lines += failures
    text = "\n".join(lines)
    path.write_text(text + "\n", encoding="utf-8")
    print(f"\n{text}\n(written to {path})")


# ---- the document itself ---------------------------------------------------------------------------


def test_every_operation_has_a_summary_a_2xx_schema_and_security(app, db):
    document = _document(app)
    policies = _policies(app, document)
    default_security = document.get("security")
    problems = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            where = f"{method.upper()} {path}"
            if not (operation.get("summary") or "").strip():
                problems.append(f"{where}: no summary (give the view a docstring)")
            ok = {s: r for s, r in operation.get("responses", {}).items() if re.fullmatch(r"2\d\d", s)}
            if not ok:
                problems.append(f"{where}: no 2xx response")
            for status, response in ok.items():
                if status != "204" and not any(c.get("schema") for c in response.get("content", {}).values()):
                    problems.append(f"{where}: the {status} response has no schema (@bp.response(status, Schema))")
            policy = policies.get((method.upper(), path))
            if policy is None:
                problems.append(f"{where}: no view policy found in the url map")
            security = operation.get("security", default_security)
            if policy == "public":
                if security != []:
                    problems.append(f"{where}: public, but the document asks for credentials")
            elif not security:
                problems.append(f"{where}: no security requirement")
            if not operation.get("operationId"):
                problems.append(f"{where}: no operationId")
    assert document["paths"], "the document has no operations"
    assert problems == [], "\n".join(problems)


def test_every_declared_link_resolves(app, db):
    """A link() naming an operation, a status or a path parameter the app does not have is a mistake: it would
    be left out of the document silently."""
    document = _document(app)
    operations = {o["operationId"]: (path, o) for path, item in document["paths"].items()
                  for m, o in item.items() if m in METHODS}
    problems = []
    named = Counter((d.source, d.status, d.name) for d in core_api.LINKS)
    problems += [f"link {name!r} of {source} {status} declared {n} times" for (source, status, name), n in named.items()
                 if n > 1]
    for declared in core_api.LINKS:
        where = f"link {declared.name!r} {declared.source} {declared.status} -> {declared.target}"
        if declared.source not in operations:
            problems.append(f"{where}: no operation {declared.source}")
            continue
        if declared.target not in operations:
            problems.append(f"{where}: no operation {declared.target}")
            continue
        response = operations[declared.source][1]["responses"].get(str(declared.status), {})
        if declared.name not in response.get("links", {}):
            problems.append(f"{where}: {declared.source} documents no {declared.status} response of its own")
        target_path, target = operations[declared.target]
        known = {p["name"] for p in target.get("parameters", [])} | set(re.findall(r"{(\w+)}", target_path))
        for name, expression in declared.parameters:
            if name not in known:
                problems.append(f"{where}: {declared.target} has no parameter {name}")
            if not str(expression).startswith("$"):
                continue
            if not re.fullmatch(r"\$(response\.body#/[\w/]+|response\.header\.[\w-]+|request\.(path|query)\.\w+"
                                r"|request\.body#/[\w/]+)", expression):
                problems.append(f"{where}: {expression!r} is not a runtime expression we use")
    assert problems == [], "\n".join(problems)
    print(json.dumps({"links": len(core_api.LINKS)}))
