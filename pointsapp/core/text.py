"""What typed text is made into before anything reads it: one set of rules for the request edge
(core/input_edge.py), the WTForms base form (core/forms.py), the marshmallow fields (core/schemas.py)
and the phone and ID cleaning (core/validation.py).

- Control characters (C0 but tab, line feed and carriage return; DEL; C1) and lone surrogates are never
  meant: PostgreSQL refuses NUL (a 500 before this), and none belongs in a name or a reason.
- Codes, phones, ids, card numbers, PINs and searches are read in their ASCII form: NFKC turns
  full-width "１２３" (a Chinese input method's digits) and "－" into ASCII, and every other decimal digit
  (Arabic-Indic "١٢٣", which NFKC keeps) becomes its ASCII digit.
- Names and reasons keep their characters: NFC only (a decomposed é becomes one character), because
  NFKC would change how a name is written (full-width brackets and letters are part of some names and
  shop signs); single-line text turns tabs and line breaks into spaces; everything is trimmed.
"""
import re
import unicodedata

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_LINE_BREAKS = re.compile(r"[\t\n\r]+")
_NON_ASCII_DIGIT = re.compile(r"[^\x00-\x7f]")


def has_control(value: str) -> bool:
    return bool(CONTROL.search(value))


def without_control(value: str) -> str:
    """Text with the control characters dropped (for text that did not come through the edge)."""
    return CONTROL.sub("", value)


def _ascii_digit(match: re.Match) -> str:
    char = match.group(0)
    digit = unicodedata.decimal(char, None)
    return str(digit) if digit is not None else char


def ascii_form(value: str) -> str:
    """A code, phone, id, PIN or search as ASCII where it can be: NFKC, every decimal digit as 0-9,
    trimmed ("　１３８－０５３５ " -> "138-0535", "١٢٣" -> "123")."""
    text = unicodedata.normalize("NFKC", without_control(value))
    return _NON_ASCII_DIGIT.sub(_ascii_digit, text).strip()


def one_line(value: str) -> str:
    """A name, a title, a single-line reason: NFC, tabs and line breaks as one space, trimmed."""
    return _LINE_BREAKS.sub(" ", unicodedata.normalize("NFC", without_control(value))).strip()


def lines(value: str) -> str:
    """A multi-line text (a description, an answer): NFC, line breaks kept, trimmed."""
    return unicodedata.normalize("NFC", without_control(value)).strip()


__all__ = ["CONTROL", "ascii_form", "has_control", "lines", "one_line", "without_control"]
