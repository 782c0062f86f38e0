"""Write a bench's figures into docs/performance.md: the block between its two markers is replaced; a first run
puts it at the end of its section (made, with its intro, when the document lacks it)."""
from pathlib import Path

DOC = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def write_block(block: str, begin: str, end: str, section: str, intro: str, doc: Path = DOC) -> Path:
    text = doc.read_text() if doc.exists() else "# Performance\n"
    body = f"{begin}\n{block.rstrip()}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + body + rest.split(end, 1)[1]
    elif section in text:
        head, rest = text.split(section, 1)
        nxt = rest.find("\n## ")
        part, tail = (rest, "") if nxt < 0 else (rest[:nxt], rest[nxt:])
        text = head + section + part.rstrip() + "\n\n" + body + "\n" + tail
    else:
        text = text.rstrip() + "\n\n" + section + "\n\n" + intro + "\n\n" + body + "\n"
    doc.write_text(text)
    return doc
