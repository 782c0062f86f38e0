"""What a ledger entry says to the person reading it, in that person's language.

Entries keep what they stored (the chain covers the reason, and the ledger is append-only), but the
text the system itself wrote into `reason` is in Chinese ("兑换单 01-20261125-000123", "签到不予认可：…",
"积分有效期 24 个月，…"). So the label is never that text: it comes from the entry's kind and source, and the
detail from the source's reference (a receipt number, an activity title, a day), read back out of the
system's own wording where that is the only place it is kept. Text a person typed (a manual award's
reason, a correction's reason) is shown as typed. One function, describe(), for every page that lists
entries; a reason the patterns here do not recognise is shown as it was stored, never dropped.
"""
import re
from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _

from pointsapp.core.localtime import format_moment
from pointsapp.core.words import labelled, word
from pointsapp.ledger.models import EntryKind, LedgerEntry

# What the system writes into `reason` (volunteering.services.checkin, store.services.counter,
# ledger.services.audit, demo.seed). Keep these in step with those writers.
ATTENDANCE = re.compile(r"^(?P<kind>[^：:]{1,40})：(?P<title>.+)$", re.S)  # f"{activity.kind}：{activity.title}"
RECEIPT = re.compile(r"^兑换单 (?P<no>\S+)$")  # f"兑换单 {receipt_no}"
DEMO_SPEND = re.compile(r"^兑换：(?P<what>.+)$", re.S)  # the demo's "兑换：挂面"
VOID = re.compile(r"^作废兑换单 (?P<no>\S+)：(?P<why>.*)$", re.S)  # f"作废兑换单 {receipt_no}：{typed}"
REJECT = re.compile(r"^签到不予认可：(?P<why>.*)$", re.S)  # f"签到不予认可：{typed}"
# queries.services.reason_for: 「疑问 #12」 (entries before 2026-12-02 also carried her words after a colon)
QUERY = re.compile(r"^疑问 #(?P<id>\d+)(?:：(?P<text>.*))?$", re.S)
DEDUCTED = re.compile(r"^(?P<item>[^：]{1,80})：(?P<why>.*)$", re.S)  # deductions.services: f"{item.title}：{reason}"
EXPIRY = re.compile(r"^积分有效期 (?P<months>\d+) 个月，(?P<day>\d{4}-\d{2}-\d{2}) 前获得的积分到期$")


@dataclass(frozen=True)
class EntryText:
    label: str  # one short line: what kind of change this was
    detail: str = ""  # the second line: which activity, receipt or day; the reason a person typed


def _day(text: str) -> str:
    try:
        return format_moment(date.fromisoformat(text), "day")
    except ValueError:
        return text


def _award(entry: LedgerEntry) -> EntryText:
    reason = (entry.reason or "").strip()
    if entry.source_type == "claim":  # claims.services: the catalogue item's title, as the office wrote it
        return EntryText(_("Good deed claimed and confirmed"), labelled(reason, _("claim #%(n)s", n=entry.source_id)))
    label = _("Volunteer service")
    found = ATTENDANCE.match(reason) if entry.source_type == "attendance" else None
    if found:
        return EntryText(label, labelled(word(found["kind"]), found["title"]))
    return EntryText(label, word(reason))  # the demo's and older entries: the kind alone


def _redemption(entry: LedgerEntry) -> EntryText:
    label = _("Redeemed at the supermarket")
    reason = (entry.reason or "").strip()
    if found := RECEIPT.match(reason):
        return EntryText(label, _("Receipt %(no)s", no=found["no"]))
    if found := DEMO_SPEND.match(reason):
        return EntryText(label, found["what"])
    return EntryText(label, reason)


def _reversal(entry: LedgerEntry) -> EntryText:
    label = _("Correction of entry #%(n)s", n=entry.reverses_id)
    reason = (entry.reason or "").strip()
    if found := VOID.match(reason):
        return EntryText(label, labelled(_("Receipt %(no)s voided", no=found["no"]), found["why"]))
    if found := REJECT.match(reason):
        return EntryText(label, labelled(_("Attendance not accepted"), found["why"]))
    return EntryText(label, _typed(reason))  # typed by the office


def _typed(reason: str) -> str:
    """A reason the office typed, or the system's 「疑问 #12：…」 for a correction made from a resident's query."""
    if found := QUERY.match(reason):
        label = _("Query #%(n)s", n=found["id"])
        return labelled(label, found["text"]) if found["text"] else label
    return reason


def _expiry(entry: LedgerEntry) -> EntryText:
    label = _("Points expired")
    reason = (entry.reason or "").strip()
    if found := EXPIRY.match(reason):
        return EntryText(label, _("Earned before %(day)s; points last %(n)s months",
                                  day=_day(found["day"]), n=found["months"]))
    return EntryText(label, _("Earned before %(day)s", day=_day(entry.source_id)) if entry.source_id else reason)


def describe(entry: LedgerEntry) -> EntryText:
    """The entry's label and detail in the reader's language (see the module's docstring)."""
    kind = entry.kind
    if kind == EntryKind.AWARD:
        return _award(entry)
    if kind == EntryKind.REDEMPTION:
        return _redemption(entry)
    if kind == EntryKind.REVERSAL:
        return _reversal(entry)
    if kind == EntryKind.EXPIRY:
        return _expiry(entry)
    if kind == EntryKind.MANUAL_AWARD:
        return EntryText(_("Award by the community office"), _typed(entry.reason or ""))
    if kind == EntryKind.MANUAL_DEDUCTION:
        return EntryText(_("Deduction by the community office"), entry.reason or "")
    if kind == EntryKind.DEDUCTION:  # 负向扣分: "<item>：<reason>" as typed, or points owed taken later (no reason)
        if entry.amount > 0:
            return EntryText(_("Deduction given back"), entry.reason or "")
        if entry.idempotency_key.startswith("owed:"):
            return EntryText(_("Owed points of a deduction taken"), "")
        reason = entry.reason or ""
        found = DEDUCTED.match(reason)  # the item and the reason are data; the colon between is the reader's
        return EntryText(_("Deduction"), labelled(found["item"], found["why"]) if found else reason)
    return EntryText(kind, entry.reason or "")

