"""The scheme's default words (activity kinds, team categories), stored in Chinese as the seeds name them,
shown in the reader's language; and the colon after a label, which differs between the two languages.

A community may rename or add words (volunteering's Label lists): those are its data and are shown as
typed. Only the defaults below have a translation."""
from flask_babel import lazy_gettext as _l

from pointsapp.core.localtime import reader_locale

ACTIVITY_KINDS = {
    "楼道广告清理": _l("Hallway advert cleanup"),
    "安全值守": _l("Safety watch"),
    "环境整治": _l("Neighbourhood clean-up"),
    "扶老助弱": _l("Helping the elderly and frail"),
    "文明倡导": _l("Civility campaign"),
    "垃圾分类督导": _l("Waste sorting guidance"),
    "文艺活动": _l("Cultural activity"),
    "文艺汇演": _l("Cultural performance"),
}
TEAM_CATEGORIES = {
    "便民": _l("Convenience"),
    "安民": _l("Safety"),
    "助民": _l("Assistance"),
    "乐民": _l("Culture"),
}


def word(name: str | None) -> str:
    """A stored default word (activity kind or team category) in the reader's language; others as stored."""
    if not name:
        return ""
    known = ACTIVITY_KINDS.get(name) or TEAM_CATEGORIES.get(name)
    return str(known) if known is not None else name


def colon() -> str:
    """The colon after a label: full-width in Chinese ("原因："), ASCII and a space in English ("Reason: ")."""
    return "：" if reader_locale() == "zh" else ": "


def list_sep() -> str:
    """Between items of a list in running text: 、 in Chinese, a comma in English."""
    return "、" if reader_locale() == "zh" else ", "


def labelled(label: str, value: str) -> str:
    """"label: value" with the reader's colon."""
    return f"{label}{colon()}{value}"
