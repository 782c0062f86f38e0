"""The checkout and the check-in as the database needs them, written once and run by both baselines:
bench/load/raw_sql.py (psycopg / sqlite3, no framework) and bench/load/minimal_app.py (Flask + SQLAlchemy Core).

Checkout (7 statements): lock the resident's points account, take one unit of stock by a conditional update,
insert the ledger entry (its hash computed with the product's own entry_hash(), so `ledger verify` still
passes after a run), move the account's balance, count and head, insert the receipt, its line and the stock
movement. Check-in (5 statements): lock the account, insert the attendance, the ledger entry, move the
account, link the attendance to its entry. What the app does besides (idempotency look-ups, limits, the
identification, earning totals for the boards, the audit of who did it, session and permission reads) is the
difference the benchmark measures.

Statements use :name parameters; `execute(sql, params)` is supplied by the caller (a psycopg cursor with the
names rewritten to %(name)s, a sqlite3 cursor, or a SQLAlchemy connection).
"""
from __future__ import annotations

import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pointsapp.ledger.services.posting import entry_hash  # noqa: E402  (the chain's one definition)

CHECKOUT_STATEMENTS = 7
CHECKIN_STATEMENTS = 5


class Entry:
    """What entry_hash()/canonical() read."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def sql_for(dialect: str) -> dict[str, str]:
    lock = " FOR NO KEY UPDATE OF a" if dialect == "postgresql" else ""
    return {
        "lock": "SELECT a.balance, a.entry_count, a.head_hash, a.earned_total, r.household_id FROM points_account a "
                "JOIN resident r ON r.id = a.resident_id WHERE a.resident_id = :rid" + lock,
        "stock": "UPDATE product SET stock = stock - 1 WHERE id = :pid AND stock >= 1 RETURNING stock, price, name",
        "entry": "INSERT INTO ledger_entry (community_id, resident_id, seq, amount, balance_after, kind, source_type, "
                 "source_id, reason, actor_id, idempotency_key, reverses_id, created_at, prev_hash, hash) VALUES "
                 "(:cid, :rid, :seq, :amount, :balance_after, :kind, :source_type, :source_id, :reason, :actor, :key, "
                 "NULL, :at, :prev, :hash) RETURNING id",
        "account": "UPDATE points_account SET balance = :balance, entry_count = :seq, head_hash = :hash, "
                   "earned_total = :earned WHERE resident_id = :rid",
        "receipt": "INSERT INTO redemption (community_id, store_id, receipt_no, resident_id, household_id, clerk_id, "
                   "total_points, balance_after, request_id, ledger_entry_id, identified_by, status, void_reason, "
                   "created_at) VALUES (:cid, :sid, :receipt_no, :rid, :hid, :actor, :points, :balance, :request_id, "
                   ":entry_id, 'phone_code', 'done', '', :at) RETURNING id",
        "line": "INSERT INTO redemption_line (community_id, redemption_id, product_id, name, quantity, unit_price, "
                "points) VALUES (:cid, :redemption_id, :pid, :name, 1, :points, :points)",
        "movement": "INSERT INTO stock_movement (community_id, store_id, product_id, change, stock_after, kind, "
                    "reason, actor_id, redemption_id, created_at) VALUES (:cid, :sid, :pid, -1, :stock, "
                    "'redemption', :receipt_no, :actor, :redemption_id, :at)",
        "attendance": "INSERT INTO attendance (community_id, activity_id, resident_id, checked_in_at, method, "
                      "recorded_by_id, manual_reason, status, hold, reject_reason, points_awarded) VALUES "
                      "(:cid, :aid, :rid, :at, 'self_scan', :actor, '', 'approved', '', '', 0) RETURNING id",
        "link": "UPDATE attendance SET ledger_entry_id = :entry_id, points_awarded = :points WHERE id = :id",
    }


def stamp(dialect: str, now: datetime):
    """created_at as the app stores it: naive UTC (SQLite: SQLAlchemy's text form)."""
    naive = now.astimezone(UTC).replace(tzinfo=None)
    return naive if dialect == "postgresql" else naive.strftime("%Y-%m-%d %H:%M:%S.%f")


Execute = Callable[[str, dict], list]  # runs one statement, returns its rows (empty list if none)


def _post(run: Execute, sql: dict, *, cid: int, rid: int, account: tuple, amount: int, kind: str, source_type: str,
          source_id: str, reason: str, actor: int, key: str, now: datetime, at, earning: bool) -> tuple[int, int]:
    balance, count, head, earned, _hid = account
    e = Entry(community_id=cid, resident_id=rid, seq=count + 1, amount=amount, balance_after=balance + amount,
              kind=kind, source_type=source_type, source_id=source_id, reason=reason, actor_id=actor,
              idempotency_key=key, reverses_id=None, created_at=now)
    h = entry_hash(head, e)
    entry_id = run(sql["entry"], {"cid": cid, "rid": rid, "seq": e.seq, "amount": amount,
                                  "balance_after": e.balance_after, "kind": kind, "source_type": source_type,
                                  "source_id": source_id, "reason": reason, "actor": actor, "key": key, "at": at,
                                  "prev": head, "hash": h})[0][0]
    run(sql["account"], {"balance": e.balance_after, "seq": e.seq, "hash": h,
                         "earned": earned + (amount if earning else 0), "rid": rid})
    return entry_id, e.balance_after


def checkout(run: Execute, sql: dict, dialect: str, *, cid: int, sid: int, rid: int, pid: int, clerk: int,
             request_id: str, now: datetime) -> int:
    """One unit of one product for the resident; returns the receipt id. The caller begins and commits."""
    at = stamp(dialect, now)
    account = tuple(run(sql["lock"], {"rid": rid})[0])
    stock, price, name = run(sql["stock"], {"pid": pid})[0]
    if account[0] < price:
        raise RuntimeError("insufficient points")
    receipt_no = f"B{request_id}"[:30]
    entry_id, balance = _post(run, sql, cid=cid, rid=rid, account=account, amount=-price, kind="redemption",
                              source_type="redemption", source_id="", reason=f"兑换单 {receipt_no}", actor=clerk,
                              key=f"redemption:{request_id}", now=now, at=at, earning=False)
    redemption_id = run(sql["receipt"], {"cid": cid, "sid": sid, "receipt_no": receipt_no, "rid": rid,
                                         "hid": account[4], "actor": clerk, "points": price, "balance": balance,
                                         "request_id": request_id, "entry_id": entry_id, "at": at})[0][0]
    run(sql["line"], {"cid": cid, "redemption_id": redemption_id, "pid": pid, "name": name, "points": price})
    run(sql["movement"], {"cid": cid, "sid": sid, "pid": pid, "stock": stock, "receipt_no": receipt_no,
                          "actor": clerk, "redemption_id": redemption_id, "at": at})
    return redemption_id


def check_in(run: Execute, sql: dict, dialect: str, *, cid: int, aid: int, rid: int, actor: int, points: int,
             title: str, now: datetime) -> int:
    """The resident checks in to an activity awarding `points` at check-in; returns the attendance id."""
    at = stamp(dialect, now)
    account = tuple(run(sql["lock"], {"rid": rid})[0])
    attendance_id = run(sql["attendance"], {"cid": cid, "aid": aid, "rid": rid, "at": at, "actor": actor})[0][0]
    entry_id, _balance = _post(run, sql, cid=cid, rid=rid, account=account, amount=points, kind="award",
                               source_type="attendance", source_id=str(attendance_id), reason=f"环境整治：{title}",
                               actor=actor, key=f"attendance:{attendance_id}", now=now, at=at, earning=True)
    run(sql["link"], {"entry_id": entry_id, "points": points, "id": attendance_id})
    return attendance_id


_NAME = re.compile(r"(?<!:):([a-z_]+)")


def pyformat(sql: str) -> str:
    """:name -> %(name)s for psycopg."""
    return _NAME.sub(r"%(\1)s", sql)
