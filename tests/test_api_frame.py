"""What every /api/v1 operation shares (core/api.py): who is asking (cookie + CSRF, or a bearer token narrowed
to its roles, community and store), the one error shape in the request's language, Idempotency-Key, rate
limits; and the tokens themselves (made on pages, stored hashed, expiring, revocable, last use recorded)."""
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from pointsapp.core.errors import InvalidInput, PermissionDenied
from pointsapp.core.permissions import Role, TokenLimit
from pointsapp.integrations.models import ApiToken, IdempotencyRecord
from pointsapp.integrations.services import tokens

from .api_helpers import bearer, error_of, token_for


def _roles(response) -> set[tuple]:
    return {(r["role"], r["community_id"], r["store_id"]) for r in response.get_json()["roles"]}


# ---- who is asking ---------------------------------------------------------------------------------


def test_a_request_without_login_gets_401_in_the_error_shape_with_a_bearer_challenge(client):
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert error_of(response)["code"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.mimetype == "application/json"


def test_messages_follow_accept_language_chinese_first(client):
    zh = error_of(client.get("/api/v1/me"))
    en = error_of(client.get("/api/v1/me", headers={"Accept-Language": "en-GB,en;q=0.9"}))
    zh_cn = error_of(client.get("/api/v1/me", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}))
    assert zh["code"] == en["code"] == "unauthenticated"
    assert zh["message"] == zh_cn["message"] == "请先登录，或发送有效的 API 令牌。"
    assert en["message"] == "Please log in, or send a valid API token."


def test_an_unknown_route_and_a_wrong_method_answer_in_the_error_shape(client, make, login):
    assert error_of(client.get("/api/v1/nothing-here"))["code"] == "not_found"
    login(client, make.resident_user())
    response = client.delete("/api/v1/me")
    assert response.status_code == 405 and error_of(response)["code"] == "method_not_allowed"


def test_a_token_that_is_unknown_expired_revoked_or_of_a_disabled_user_is_refused(client, make, clock, db):
    c = make.community()
    user = make.resident_user(community=c)
    good = token_for(user, c, [Role.RESIDENT], days=1)
    assert client.get("/api/v1/me", headers=bearer(good)).status_code == 200
    for secret in ("pa_unknown", "not-even-ours", "pa_" + "x" * 200, good + "x"):
        response = client.get("/api/v1/me", headers=bearer(secret))
        assert response.status_code == 401 and error_of(response)["code"] == "invalid_token", secret
    response = client.get("/api/v1/me", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert response.status_code == 401 and error_of(response)["code"] == "invalid_token"

    clock.advance(days=1)
    assert client.get("/api/v1/me", headers=bearer(good)).status_code == 401  # expired
    clock.advance(days=-1)

    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    tokens.revoke(user, token, clock.now())
    db.session.commit()
    assert client.get("/api/v1/me", headers=bearer(good)).status_code == 401  # revoked

    other = make.resident_user(community=c)
    secret = token_for(other, c, [Role.RESIDENT])
    other.is_enabled = False
    db.session.commit()
    assert client.get("/api/v1/me", headers=bearer(secret)).status_code == 401  # her account disabled


def test_only_the_hash_of_a_token_is_stored(make, db, now):
    c = make.community()
    user = make.resident_user(community=c)
    secret = token_for(user, c, [Role.RESIDENT])
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert secret not in (row.token_hash, row.prefix) and row.token_hash == tokens.hash_secret(secret)
    assert secret.startswith(row.prefix) and len(row.prefix) <= 10
    dumped = " ".join(str(v) for v in db.session.execute(text("SELECT * FROM api_token")).one())
    assert secret not in dumped


def test_a_token_acts_only_within_its_roles_and_its_one_community(client, make, db):
    a, b = make.community(), make.community()
    user = make.resident_user(community=a)
    make.grant(user, Role.COMMUNITY_ADMIN, a)
    make.grant(user, Role.COMMUNITY_ADMIN, b)
    db.session.commit()
    as_resident = client.get("/api/v1/me", headers=bearer(token_for(user, a, [Role.RESIDENT])))
    assert _roles(as_resident) == {("resident", a.id, None)}
    as_office_of_b = client.get("/api/v1/me", headers=bearer(token_for(user, b, [Role.COMMUNITY_ADMIN])))
    assert _roles(as_office_of_b) == {("community_admin", b.id, None)}
    # a token may carry both of her roles in one community
    assert len(_roles(client.get("/api/v1/me", headers=bearer(token_for(user, a, [Role.RESIDENT,
                                                                                     Role.COMMUNITY_ADMIN]))))) == 2


def test_a_city_admins_token_is_one_communitys_office_and_a_store_token_one_counter(client, make, db):
    a = make.community()
    city = make.city_admin()
    response = client.get("/api/v1/me", headers=bearer(token_for(city, a, [Role.COMMUNITY_ADMIN])))
    assert _roles(response) == {("community_admin", a.id, None)}
    admin = make.admin(a)
    store = make.store(a)
    db.session.commit()
    counter = client.get("/api/v1/me", headers=bearer(token_for(admin, a, [Role.CLERK], store=store)))
    assert _roles(counter) == {("clerk", a.id, store.id)}


def test_token_limit_narrows_scopes_and_drops_roles_taken_away():
    from pointsapp.core.permissions import Scope
    limit = TokenLimit(frozenset({"clerk"}), 1, store_id=7)
    scopes = [Scope("clerk", 1, store_id=7), Scope("clerk", 1, store_id=8), Scope("clerk", 2, store_id=9),
              Scope("team_lead", 1, team_id=3), Scope("resident", 1)]
    assert limit.narrow(scopes) == [Scope("clerk", 1, store_id=7)]
    assert limit.narrow([Scope("resident", 1)]) == []  # a role she no longer holds is gone from the token too


@pytest.mark.parametrize("case", ["role_not_held", "someone_elses_personal", "device_by_resident",
                                  "store_token_with_office_role", "too_long", "no_roles", "other_community"])
def test_token_creation_is_refused_beyond_what_its_user_holds(make, db, now, case):
    a, b = make.community(), make.community()
    resident = make.resident_user(community=a)
    admin = make.admin(a)
    store = make.store(a)
    db.session.commit()
    kwargs = dict(actor=resident, user=resident, kind="personal", name="x", roles=["resident"], community_id=a.id,
                  store_id=None, days=30, rate_per_minute=60, now=now)
    kwargs.update({
        "role_not_held": dict(roles=["community_admin"]),
        "someone_elses_personal": dict(actor=admin),
        "device_by_resident": dict(kind="device", user=admin, roles=["community_admin"]),
        "store_token_with_office_role": dict(actor=admin, user=admin, roles=["community_admin"], store_id=store.id),
        "too_long": dict(days=367),
        "no_roles": dict(roles=[]),
        "other_community": dict(community_id=b.id),
    }[case])
    with pytest.raises((PermissionDenied, InvalidInput)):
        tokens.create(kwargs.pop("actor"), **kwargs)


def test_a_token_cannot_make_tokens(make, db, now):
    c = make.community()
    admin = make.admin(c)
    admin._token_limit = TokenLimit(frozenset({"community_admin"}), c.id)
    with pytest.raises(PermissionDenied) as refused:
        tokens.create(admin, user=admin, kind="personal", name="x", roles=["community_admin"], community_id=c.id,
                      store_id=None, days=30, rate_per_minute=60, now=now)
    assert refused.value.code == "token_cannot_create"


def test_last_use_is_recorded_at_most_once_a_minute(client, make, db, clock):
    c = make.community()
    user = make.resident_user(community=c)
    secret = token_for(user, c, [Role.RESIDENT])
    client.get("/api/v1/me", headers=bearer(secret))
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    db.session.refresh(row)
    assert row.last_used_at == clock.now() and row.last_used_ip == "127.0.0.1"
    first = row.last_used_at
    clock.advance(seconds=30)
    client.get("/api/v1/me", headers=bearer(secret))
    db.session.refresh(row)
    assert row.last_used_at == first
    clock.advance(seconds=31)
    client.get("/api/v1/me", headers=bearer(secret))
    db.session.refresh(row)
    assert row.last_used_at == clock.now()


def test_the_apps_own_pages_need_the_csrf_header_and_token_clients_do_not(app, client, make, login, db):
    c = make.community()
    user = make.resident_user(community=c)
    secret = token_for(user, c, [Role.RESIDENT])
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    other_secret = token_for(user, c, [Role.RESIDENT])
    other = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.id != token.id))
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        login(client, user)
        refused = client.post(f"/api/v1/tokens/{token.id}/revoke")
        assert refused.status_code == 400 and error_of(refused)["code"] == "csrf_failed"
        client.get("/me/tokens")  # the page puts a CSRF token into her session
        with client.session_transaction() as sess:
            from itsdangerous import URLSafeTimedSerializer
            raw = sess["csrf_token"]
        signed = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(raw)
        assert client.post(f"/api/v1/tokens/{token.id}/revoke", headers={"X-CSRFToken": signed}).status_code == 200
        anonymous = app.test_client()
        assert anonymous.post(f"/api/v1/tokens/{other.id}/revoke", headers=bearer(other_secret)).status_code == 200
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert secret != other_secret


def test_each_token_has_its_own_rate_limit_answered_with_429_and_retry_after(client, make, db):
    c = make.community()
    user = make.resident_user(community=c)
    slow = token_for(user, c, [Role.RESIDENT], rate=3)
    other = token_for(user, c, [Role.RESIDENT], rate=3)
    statuses = [client.get("/api/v1/me", headers=bearer(slow)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = client.get("/api/v1/me", headers=bearer(slow))
    assert error_of(refused)["code"] == "rate_limited" and int(refused.headers["Retry-After"]) > 0
    assert client.get("/api/v1/me", headers=bearer(other)).status_code == 200  # another token's own allowance


# ---- Idempotency-Key ---------------------------------------------------------------------------------


def _two_tokens(make, db):
    c = make.community()
    user = make.resident_user(community=c)
    secret = token_for(user, c, [Role.RESIDENT])
    target = token_for(user, c, [Role.RESIDENT])
    row = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)).all()[-1]
    return c, user, secret, row.id, target


def test_the_same_key_twice_replays_the_first_response(client, make, db, clock):
    _, _, secret, target_id, _ = _two_tokens(make, db)
    first = client.post(f"/api/v1/tokens/{target_id}/revoke", headers=bearer(secret, key="k-1"))
    assert first.status_code == 200 and "Idempotent-Replayed" not in first.headers
    clock.advance(minutes=5)
    again = client.post(f"/api/v1/tokens/{target_id}/revoke", headers=bearer(secret, key='"k-1"'))  # sf-string form
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_data() == first.get_data()
    assert db.session.scalar(select(db.func.count()).select_from(IdempotencyRecord)) == 1


def test_the_same_key_with_another_request_is_422(client, make, db):
    _, _, secret, target_id, _ = _two_tokens(make, db)
    assert client.post(f"/api/v1/tokens/{target_id}/revoke", headers=bearer(secret, key="k-2")).status_code == 200
    with_body = client.post(f"/api/v1/tokens/{target_id}/revoke", headers=bearer(secret, key="k-2"),
                            json={"reason": "another body"})
    assert with_body.status_code == 422 and error_of(with_body)["code"] == "idempotency_key_reused"
    other_path = client.post(f"/api/v1/tokens/{target_id + 1000}/revoke", headers=bearer(secret, key="k-2"))
    assert other_path.status_code == 422 and error_of(other_path)["code"] == "idempotency_key_reused"


def test_a_refusal_is_replayed_too_and_keys_belong_to_one_client(client, make, db):
    _, _, secret, _, _ = _two_tokens(make, db)
    missing = client.post("/api/v1/tokens/999999/revoke", headers=bearer(secret, key="k-3"))
    assert missing.status_code == 404
    replay = client.post("/api/v1/tokens/999999/revoke", headers=bearer(secret, key="k-3"))
    assert replay.status_code == 404 and replay.headers["Idempotent-Replayed"] == "true"
    _, _, someone_else, target_id, _ = _two_tokens(make, db)
    own = client.post(f"/api/v1/tokens/{target_id}/revoke", headers=bearer(someone_else, key="k-3"))
    assert own.status_code == 200 and "Idempotent-Replayed" not in own.headers


@pytest.mark.parametrize("key", ["", "é", "x" * 256, "two words", '"unterminated'])
def test_a_malformed_key_is_400(client, make, db, key):
    _, _, secret, target_id, _ = _two_tokens(make, db)
    response = client.post(f"/api/v1/tokens/{target_id}/revoke",
                           headers={**bearer(secret), "Idempotency-Key": key.encode("utf-8").decode("latin-1")})
    assert response.status_code == 400 and error_of(response)["code"] == "invalid_idempotency_key"


def test_a_rate_limited_answer_is_not_stored(client, make, db):
    c = make.community()
    user = make.resident_user(community=c)
    slow = token_for(user, c, [Role.RESIDENT], rate=1)
    client.get("/api/v1/me", headers=bearer(slow))
    limited = client.post("/api/v1/tokens/1/revoke", headers=bearer(slow, key="k-4"))
    assert limited.status_code == 429
    assert db.session.scalar(select(db.func.count()).select_from(IdempotencyRecord)) == 0


def test_a_key_whose_first_request_still_runs_is_409(app, client, make, db, backend):
    if backend != "postgresql":
        pytest.skip("on SQLite the first request holds the one write lock: the second waits for it and replays")
    _, user, secret, target_id, _ = _two_tokens(make, db)
    owner = f"token:{db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == user.id).order_by(ApiToken.id))}"
    db.session.commit()
    running = threading.Event()
    release = threading.Event()

    def first_request_holding_its_key():  # what a request does while it runs: its record inserted, uncommitted
        with app.app_context(), db.engine.connect() as conn:
            conn.execute(IdempotencyRecord.__table__.insert().values(
                owner=owner, key="k-5", fingerprint="f", state="running", created_at=make.now))
            running.set()
            release.wait(20)
            conn.rollback()

    holder = threading.Thread(target=first_request_holding_its_key)
    holder.start()
    try:
        assert running.wait(10)
        app.config["LOCK_TIMEOUT_MS"], saved = 300, app.config.get("LOCK_TIMEOUT_MS")
        response = client.post(f"/api/v1/tokens/{target_id}/revoke", headers=bearer(secret, key="k-5"))
    finally:
        release.set()
        holder.join()
        app.config["LOCK_TIMEOUT_MS"] = saved
    assert response.status_code == 409 and error_of(response)["code"] == "idempotency_in_flight"
    # once the first is gone, the key runs
    assert client.post(f"/api/v1/tokens/{target_id}/revoke", headers=bearer(secret, key="k-5")).status_code == 200


# ---- the token pages -------------------------------------------------------------------------------------


def test_her_token_page_shows_a_new_secret_once_and_it_works_until_revoked(client, make, login, db):
    c = make.community()
    user = make.resident_user(community=c)
    login(client, user)
    page = client.post("/me/tokens", data={"name": "我的小程序", "community_id": str(c.id), "roles": ["resident"],
                                            "days": "30", "rate_per_minute": "60"})
    html = page.get_data(as_text=True)
    secret = html.split('class="token-secret" readonly value="')[1].split('"')[0]
    assert secret.startswith("pa_")
    assert secret not in client.get("/me/tokens").get_data(as_text=True)  # shown once
    anonymous = client.application.test_client()
    assert anonymous.get("/api/v1/me", headers=bearer(secret)).status_code == 200
    token = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    client.post(f"/me/tokens/{token.id}/revoke")
    assert anonymous.get("/api/v1/me", headers=bearer(secret)).status_code == 401


def test_the_office_makes_a_device_token_acting_as_herself_at_one_counter(client, make, login, db):
    c = make.community()
    admin = make.admin(c)
    store = make.store(c)
    db.session.commit()
    login(client, admin)
    form = {"name": "柜台平板", "community_id": str(c.id), "roles": ["clerk"], "store_id": str(store.id), "days": "90",
            "rate_per_minute": "120"}
    made = client.post(f"/admin/c/{c.id}/tokens", data=form).get_data(as_text=True)
    secret = made.split('class="token-secret" readonly value="')[1].split('"')[0]
    me = client.application.test_client().get("/api/v1/me", headers=bearer(secret)).get_json()
    assert me["user_id"] == admin.id and me["roles"] == [{"role": "clerk", "community_id": c.id, "store_id": store.id,
                                                          "team_id": None}]
    page = client.get(f"/admin/c/{c.id}/tokens").get_data(as_text=True)
    assert "柜台平板" in page and secret not in page


@pytest.mark.parametrize("roles", [["community_admin"], ["resident"], ["clerk"]])
def test_a_device_token_never_acts_as_somebody_else(make, db, now, roles):
    """Else one office member could be the second person of her own award, or read a colleague's member code."""
    c = make.community()
    first, second = make.admin(c), make.admin(c)
    colleague = make.resident_user(community=c)
    make.grant(colleague, Role.CLERK, c, store=make.store(c))
    db.session.commit()
    for user in (second, colleague):
        with pytest.raises((PermissionDenied, InvalidInput)):
            tokens.create(first, user=user, kind="device", name="x", roles=roles, community_id=c.id, store_id=None,
                          days=30, rate_per_minute=60, now=now)
    with pytest.raises(InvalidInput):
        tokens.create(first, user=first, kind="device", name="x", roles=["resident"], community_id=c.id,
                      store_id=None, days=30, rate_per_minute=60, now=now)


def test_the_same_idempotency_key_from_two_office_members_makes_two_awards(client, make, db):
    c = make.community()
    c.award_ceiling = 100
    first, second = make.admin(c), make.admin(c)
    x, y = make.resident(community=c), make.resident(community=c)
    db.session.commit()
    a = client.post(f"/api/v1/communities/{c.id}/residents/{x.id}/awards", json={"amount": 500, "reason": "抢险"},
                    headers=bearer(token_for(first, c, ["community_admin"]), key="7"))
    b = client.post(f"/api/v1/communities/{c.id}/residents/{y.id}/awards", json={"amount": 800, "reason": "救灾"},
                    headers=bearer(token_for(second, c, ["community_admin"]), key="7"))
    assert a.status_code == b.status_code == 202
    assert (a.get_json()["award_request"]["amount"], b.get_json()["award_request"]["amount"]) == (500, 800)


def test_a_tokens_own_tokens_are_those_of_its_community(client, make, db):
    a, b = make.community(), make.community()
    user = make.resident_user(community=a)
    make.grant(user, Role.COMMUNITY_ADMIN, b)
    db.session.commit()
    in_a = token_for(user, a, ["resident"])
    token_for(user, b, ["community_admin"])
    listed = client.get("/api/v1/tokens", headers=bearer(in_a)).get_json()
    assert {t["community_id"] for t in listed} == {a.id}
    other = db.session.scalar(select(ApiToken.id).where(ApiToken.community_id == b.id))
    assert client.post(f"/api/v1/tokens/{other}/revoke", headers=bearer(in_a)).status_code == 404


def test_json_nested_thousands_deep_is_400_not_500(client):
    response = client.post("/api/v1/tokens/1/revoke", data="[" * 5000, content_type="application/json")
    assert response.status_code == 400 and error_of(response)["code"] == "unreadable_input"


def test_a_refused_number_names_its_bounds(client, make, db):
    c = make.community()
    admin = make.admin(c)
    x = make.resident(community=c)
    db.session.commit()
    response = client.post(f"/api/v1/communities/{c.id}/residents/{x.id}/awards", json={"amount": 10**9, "reason": "x"},
                           headers=bearer(token_for(admin, c, ["community_admin"]), lang="en"))
    message = error_of(response)["message"]
    assert response.status_code == 422 and "%(" not in message and "100000" in message.replace(",", "")


def test_days_left_are_shown_and_expired_tokens_read_expired(client, make, login, db, clock):
    c = make.community()
    user = make.resident_user(community=c)
    token_for(user, c, [Role.RESIDENT], days=1)
    login(client, user)
    clock.advance(timedelta(days=2))
    login(client, user)
    assert "已过期" in client.get("/me/tokens").get_data(as_text=True)


def test_the_nightly_purge_forgets_keys_older_than_a_day(client, make, db, clock):
    from pointsapp.integrations.services import idempotency
    _, _, secret, target_id, _ = _two_tokens(make, db)
    client.post(f"/api/v1/tokens/{target_id}/revoke", headers=bearer(secret, key="old"))
    clock.advance(hours=23)
    client.post("/api/v1/tokens/999999/revoke", headers=bearer(secret, key="young"))
    clock.advance(hours=2)
    assert idempotency.purge(clock.now()) == 1
    db.session.commit()
    assert db.session.scalars(select(IdempotencyRecord.key)).all() == ["young"]


def test_a_counter_tablets_token_cannot_reach_its_makers_other_tokens(client, make, db):
    c = make.community()
    admin = make.admin(c)
    store = make.store(c)
    db.session.commit()
    office = token_for(admin, c, ["community_admin"])
    tablet = token_for(admin, c, ["clerk"], store=store, kind="device")
    listed = client.get("/api/v1/tokens", headers=bearer(tablet)).get_json()
    assert [t["store_id"] for t in listed] == [store.id]
    office_id = db.session.scalar(select(ApiToken.id).where(ApiToken.store_id.is_(None)))
    assert client.post(f"/api/v1/tokens/{office_id}/revoke", headers=bearer(tablet)).status_code == 404
    assert client.get("/api/v1/me", headers=bearer(office)).status_code == 200


def test_a_body_the_operation_would_not_read_is_415_and_runs_nothing(client, make, db):
    """A form post or plain text to a JSON operation was read as {} and ran with its defaults; a JSON body to
    the import upload was read as no file. Either is 415 now, in the one shape, before anything runs."""
    c = make.community()
    admin = make.admin(c)
    x = make.resident(community=c)
    db.session.commit()
    headers = bearer(token_for(admin, c, ["community_admin"]), lang="en")
    url = f"/api/v1/communities/{c.id}/residents/{x.id}/awards"
    for body, content_type in (("amount=50&reason=x", "application/x-www-form-urlencoded"),
                               ('{"amount": 50, "reason": "x"}', "text/plain"),
                               ('{"amount": 50, "reason": "x"}', None)):
        response = client.post(url, data=body, content_type=content_type, headers=headers)
        assert response.status_code == 415, (content_type, response.get_json())
        assert error_of(response) == {"code": "unsupported_media_type", "message": "Send the request body as JSON.",
                                      "details": {}}
    # JSON with a charset, and JSON's +json types, are JSON
    ok = client.post(url, data='{"amount": 5, "reason": "扫楼道"}', content_type="application/json; charset=utf-8",
                     headers=headers)
    assert ok.status_code == 201, ok.get_json()
    upload = client.post(f"/api/v1/communities/{c.id}/imports", json={"file": "x"}, headers=headers)
    assert upload.status_code == 415 and "multipart/form-data" in error_of(upload)["message"]
    # an operation that reads no body lets an empty one through (and says what is missing when it needs one)
    empty = client.post(url, headers=headers)
    assert empty.status_code == 422 and error_of(empty)["code"] == "invalid_input"
    # documented: every operation with a body may answer 415
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "415" in spec["paths"]["/api/v1/communities/{community_id}/residents/{resident_id}/awards"]["post"]["responses"]
    assert "415" not in spec["paths"]["/api/v1/me"]["get"]["responses"]


def test_refused_tokens_from_one_address_are_limited_before_they_are_looked_up(app, client, make, db):
    """A refused token never reaches an operation's limit (401 comes first): without a limit of its own, an
    address could send unknown tokens as fast as the database looks them up."""
    c = make.community()
    admin = make.admin(c)
    db.session.commit()
    good = token_for(admin, c, ["community_admin"])
    app.config["API_RATE_LIMIT_BAD_TOKENS"] = "3/minute"
    try:
        for i in range(3):
            refused = client.get("/api/v1/me", headers=bearer(f"pat_unknown{i}"))
            assert refused.status_code == 401 and error_of(refused)["code"] == "invalid_token"
        looked_up = []
        from sqlalchemy import event

        @event.listens_for(db.engine, "before_cursor_execute")
        def count(conn, cursor, statement, *args):
            looked_up.append(statement)

        try:
            limited = client.get("/api/v1/me", headers=bearer("pat_unknown4"))
            assert limited.status_code == 429 and error_of(limited)["code"] == "rate_limited"
            assert 1 <= int(limited.headers["Retry-After"]) <= 61
            assert not [s for s in looked_up if "api_token" in s]  # refused before any lookup
            # from this address, bearer requests wait the minute out; the app's own pages (cookies) do not
            assert client.get("/api/v1/me", headers=bearer(good)).status_code == 429
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
        # another address is not limited by this one's refusals
        elsewhere = client.get("/api/v1/me", headers=bearer(good), environ_base={"REMOTE_ADDR": "10.1.2.3"})
        assert elsewhere.status_code == 200
    finally:
        app.config["API_RATE_LIMIT_BAD_TOKENS"] = "30/minute"


def test_a_key_left_running_by_a_kept_refusal_is_taken_over_by_its_retry(client, make, db, now):
    """A refusal that keeps its changes (a wrong PIN's count) commits the key's record with them; when its answer
    is one that is not stored (429, 503), the record stays "running" with nobody running it. The retry with the
    same key runs (it used to find a record with no answer), and its answer is then kept."""
    c = make.community()
    admin = make.admin(c)
    x = make.resident(community=c)
    db.session.commit()
    secret = token_for(admin, c, ["community_admin"])
    token_id = db.session.scalar(select(ApiToken.id).where(ApiToken.user_id == admin.id))
    db.session.add(IdempotencyRecord(owner=f"token:{token_id}", key="award-9", fingerprint="0" * 64, state="running",
                                     created_at=now))
    db.session.commit()
    url = f"/api/v1/communities/{c.id}/residents/{x.id}/awards"
    first = client.post(url, json={"amount": 5, "reason": "扫楼道"}, headers=bearer(secret, key="award-9"))
    assert first.status_code == 201, first.get_json()
    again = client.post(url, json={"amount": 5, "reason": "扫楼道"}, headers=bearer(secret, key="award-9"))
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    db.session.expire_all()
    assert db.session.scalar(select(IdempotencyRecord.state).where(IdempotencyRecord.key == "award-9")) == "done"
