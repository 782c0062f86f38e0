"""Imports point one way: web/cli -> services -> models -> extensions (CONVENTIONS.md)."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pointsapp"

# layer -> packages it must never import
FORBIDDEN = {
    "models": ("pointsapp.services", "pointsapp.web", "pointsapp.cli", "pointsapp.permissions", "flask_login", "flask.request"),
    "services": ("pointsapp.web", "pointsapp.cli", "flask_login"),
    "errors": ("flask",),
}
FORBIDDEN_NAMES = {
    "models": {"request", "url_for", "session", "current_user", "g"},
    "services": {"request", "session", "current_user", "g", "url_for"},
}


def _layer(path: Path) -> str | None:
    rel = path.relative_to(PACKAGE).parts
    if rel[0] in ("models", "services"):
        return rel[0]
    if rel[0] == "errors.py":
        return "errors"
    return None


def _imports(path: Path):
    tree = ast.parse(path.read_text(), str(path))
    package = "pointsapp." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([module] if module else []))
            for alias in node.names:
                yield module, alias.name


def test_layers_import_only_downwards():
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        layer = _layer(path)
        if layer is None:
            continue
        for module, name in _imports(path):
            full = f"{module}.{name}" if name else module
            if any(full == f or full.startswith(f + ".") or module == f for f in FORBIDDEN.get(layer, ())):
                wrong.append(f"{path.relative_to(PACKAGE)} imports {full}")
            if module == "flask" and name in FORBIDDEN_NAMES.get(layer, set()):
                wrong.append(f"{path.relative_to(PACKAGE)} imports flask.{name}")
    assert wrong == []


def test_services_never_commit():
    """One unit of work per request: only the web and CLI layers commit."""
    offenders = [str(p.relative_to(PACKAGE)) for p in (PACKAGE / "services").rglob("*.py")
                 if ".commit()" in p.read_text()]
    assert offenders == []
