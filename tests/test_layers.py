"""The shape of the code, enforced (CONVENTIONS.md, docs/architecture.md):

- `pointsapp/core/` is shared by every feature and imports none of them;
- inside a feature, imports point one way: views/cli/api -> forms/schemas -> services -> models;
- another feature is used only through its services and models (never its views, forms or CLI);
- the features' models and services depend on each other without a circle (views may combine features);
- models never touch the request; services never read request, session or current_user and never commit.
"""
import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "pointsapp"
SHARED = "core"
WIRING = {"__init__", "features", "cli"}  # the app factory and the list of features: may import anything
DEPLOYMENT = {"serving"}  # runs the app (gunicorn's config and hooks): not a feature, may import anything

# layer -> rank; a module may import modules of its own feature at a lower or equal rank
RANK = {"models": 0, "services": 1, "permissions": 1, "schemas": 2, "forms": 2, "views": 3, "i18n": 3,
        "cli": 3, "api": 3, "seed": 1}
PUBLIC_LAYERS = {"models", "services", "permissions"}  # what another feature may import
FORBIDDEN_NAMES = {
    "models": {"request", "url_for", "session", "current_user", "g"},
    "services": {"request", "session", "current_user", "g", "url_for"},
    "permissions": {"request", "session", "g", "url_for"},
}
FORBIDDEN_MODULES = {"models": ("flask_login",), "services": ("flask_login",)}


def _module_of(path: Path) -> list[str]:
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _where(parts: list[str]) -> tuple[str, str | None]:
    """(feature, layer) of a module given as parts below pointsapp."""
    if not parts:
        return "__init__", None
    if len(parts) == 1:
        return parts[0], None
    return parts[0], parts[1]


def _imports(path: Path):
    tree = ast.parse(path.read_text(), str(path))
    own = _module_of(path)
    package = own if path.name == "__init__.py" else own[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split("."), None
        elif isinstance(node, ast.ImportFrom):
            base = ["pointsapp"] + package[: len(package) - (node.level - 1)] if node.level else []
            module = base + (node.module.split(".") if node.module else [])
            for alias in node.names:
                yield module, alias.name


def _edges():
    """(importer path, its feature, its layer, imported feature, imported layer, flask name or None)"""
    for path in sorted(PACKAGE.rglob("*.py")):
        feature, layer = _where(_module_of(path))
        for module, name in _imports(path):
            if module[:1] == ["pointsapp"]:
                target = module[1:]
                if name and len(target) < 2:  # from pointsapp.store import models
                    target = target + [name]
                yield path, feature, layer, *_where(target), None
            else:
                yield path, feature, layer, ".".join(module), None, name


def _is_feature(name: str) -> bool:
    return (PACKAGE / name).is_dir() and name not in (SHARED, "translations", "__pycache__", *DEPLOYMENT)


def test_features_are_packages_with_layers():
    features = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and _is_feature(p.name))
    assert {"tree", "accounts", "volunteering", "ledger", "store", "rankings", "recognition"} <= set(features)
    for feature in features:
        layers = {p.stem for p in (PACKAGE / feature).iterdir() if p.name != "__init__.py" and p.name != "__pycache__"}
        assert layers <= set(RANK), f"{feature} has modules outside the known layers: {layers - set(RANK)}"


def test_imports_point_one_way():
    wrong = []
    for path, feature, layer, target_feature, target_layer, flask_name in _edges():
        rel = path.relative_to(PACKAGE)
        if flask_name is not None or target_layer is None and not _is_feature(target_feature or ""):
            external = target_feature  # a third-party module name, e.g. "flask"
            if layer in FORBIDDEN_NAMES and external == "flask" and flask_name in FORBIDDEN_NAMES[layer]:
                wrong.append(f"{rel} imports flask.{flask_name}")
            if layer in FORBIDDEN_MODULES and any(external == m or external.startswith(m + ".")
                                                   for m in FORBIDDEN_MODULES[layer]):
                wrong.append(f"{rel} imports {external}")
            if feature != SHARED or external in WIRING or external is None:
                continue
        if feature in WIRING and layer is None or feature in DEPLOYMENT:
            continue
        if target_feature in WIRING and target_layer is None:
            wrong.append(f"{rel} imports the wiring module pointsapp.{target_feature}")
            continue
        if feature == SHARED:
            if target_feature != SHARED and _is_feature(target_feature or ""):
                wrong.append(f"{rel} (shared) imports the feature {target_feature}")
            continue
        if target_feature == SHARED or not _is_feature(target_feature or ""):
            continue
        if target_feature == feature:
            if layer in RANK and target_layer in RANK and RANK[target_layer] > RANK[layer]:
                wrong.append(f"{rel} ({layer}) imports its own {target_layer}: arrows point down")
        elif target_layer not in PUBLIC_LAYERS:
            wrong.append(f"{rel} imports {target_feature}.{target_layer}: another feature only via services/models")
    assert wrong == []


def test_features_depend_on_each_other_without_a_circle():
    """Over the domain (models and services): views sit on top and may combine several features."""
    graph = defaultdict(set)
    for _path, feature, layer, target_feature, _tl, flask_name in _edges():
        if flask_name is None and feature != target_feature and _is_feature(feature) and _is_feature(
                target_feature or "") and feature not in WIRING and RANK.get(layer, 9) <= RANK["services"]:
            graph[feature].add(target_feature)
    seen, stack, cycles = set(), [], []

    def visit(node):
        if node in stack:
            cycles.append(stack[stack.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for nxt in sorted(graph[node]):
            visit(nxt)
        stack.pop()

    for node in sorted(graph):
        visit(node)
    assert cycles == [], " ; ".join(" -> ".join(c) for c in cycles)


def test_only_the_unit_of_work_commits_or_rolls_back():
    """One unit of work per request and command: no service, view or command commits by hand."""
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if p.relative_to(PACKAGE).as_posix() != "core/uow.py"
                 and any(call in p.read_text() for call in (".commit()", ".rollback()"))]
    assert offenders == []


def test_dates_reach_people_only_through_core_localtime():
    """Every instant shown to a person is converted to the configured TIMEZONE by core.localtime
    (templates: the `local` filter); `.strftime` elsewhere is only for what nobody reads as a date."""
    allowed = {
        "core/localtime.py": "the one path",
        "ledger/services/posting.py": "the hash chain's canonical UTC form, never shown",
        "imports/services/sheets.py": "a date cell of an uploaded sheet (a date, no time zone)",
    }
    offenders = [p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
                 if ".strftime(" in p.read_text() and p.relative_to(PACKAGE).as_posix() not in allowed]
    assert offenders == []
    templates = PACKAGE.parent / "templates"
    assert [t.name for t in templates.rglob("*.html") if "datetimeformat" in t.read_text()
            or ".strftime(" in t.read_text()] == []
