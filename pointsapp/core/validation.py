"""Small field checks shared by forms, imports and services."""
import re

from pointsapp.core.text import ascii_form

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")  # mainland mobile numbers
ID_TAIL_RE = re.compile(r"^\d{3}[\dX]$")


def clean_phone(value) -> str:
    """Digits only, without +86 and spaces; '' when empty. Full-width ("１３８…") and Arabic-Indic digits
    are read as ASCII (core.text.ascii_form)."""
    text = re.sub(r"[\s\-]", "", ascii_form(str(value or "")))
    if text.startswith("+86"):
        text = text[3:]
    elif text.startswith("86") and len(text) == 13:
        text = text[2:]
    if text.endswith(".0"):  # a phone typed into a numeric Excel cell
        text = text[:-2]
    return text


def is_phone(value: str) -> bool:
    return bool(PHONE_RE.match(value))


def clean_id_tail(value) -> str:
    text = ascii_form(str(value or "")).upper()
    if text.endswith(".0"):
        text = text[:-2]
    return text.zfill(4) if text.isdigit() and len(text) < 4 else text


def is_id_tail(value: str) -> bool:
    return bool(ID_TAIL_RE.match(value))
