"""stratopt's layers only import downward (docs/architecture.md), checked on the source.

An `ast` scan of src/stratopt; every violation is reported as `file:line: rule: detail`:

* ``upward``: a module imports a stratopt package of its own layer or of one above it.
  A package imports only packages of lower layers; the foundation modules (errors and
  the small helpers below) import nothing but each other, and everyone may import them.
* ``private``: a module imports another package's underscore module or name. A
  package's public names are its ``__init__``'s ``__all__``. Kernels are the exception:
  a compiled ``*_nb.py`` kernel calls the kernels of a lower package directly.
* ``local-import``: a function imports a stratopt module (the cycles it would hide are
  what the layers forbid), or a third-party module not in `LAZY_IMPORTS`.
* ``dynamic``: ``importlib.import_module``/``__import__`` of a stratopt module outside
  the sanctioned places: the top-level package's lazy names, `stratopt._moved`, and a
  package's ``__init__`` loading its own submodule lazily (`mcp_server`: its SDK is an
  optional extra that costs ~1.7 s to import, so the CLI must not load it up front).
* ``unplaced``: a package missing from `LAYERS` (a new package must be given a layer).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = SRC / "stratopt"

# Top to bottom. A package imports only packages of later entries; packages sharing an
# entry do not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cli",),  # commands and rendering
    ("mcp_server",),  # `stratopt mcp`: tools for AI agents, beside the CLI (which serves it)
    ("optimization", "launch"),  # thin re-exports and forwards of operations
    ("operations", "ml"),  # one module per user operation: the only composers
    ("reporting",),  # the report's page: figures and tables from a run's numbers
    ("validation",),  # algorithms: windows, holdout, CPCV, stability, region, look-ahead
    ("search",),  # the Optuna seam: plan, study opening, trial loops, tell
    # parameters -> metrics, returns, segments (no Optuna); many cells at once (batch);
    # a deep look at a few backtests (analysis). None of the three imports another.
    ("evaluation", "batch", "analysis"),
    ("grid",),  # grid strategies through the lot-book engine; a study's grid: section
    ("backtest",),  # one backtest and batches
    ("config",),  # the study file's models
    ("strategies",),
    ("engine",),
    ("metrics", "data", "storage", "stats"),  # leaves; stats is pure formulas
)
# Importable from every layer; they import only each other.
FOUNDATION = ("errors", "_gc", "_jsonable", "_moved", "_njit", "_suggest", "_urls", "_version")

# Function-local imports of heavy third-party modules, loaded only when used (one line
# each: file relative to src/stratopt, module, why).
LAZY_IMPORTS: dict[tuple[str, str], str] = {
    ("analysis/_correlation.py", "scipy.cluster.hierarchy"): "~0.3 s: only with 2+ candidates",
    ("analysis/_correlation.py", "scipy.spatial.distance"): "~0.3 s: only with 2+ candidates",
    ("batch/_dask.py", "distributed"): "the optional `dask` extra, ~1 s: only with --cluster",
    ("batch/_aggregate.py", "scipy.stats"): "~0.5 s: only for Kendall's W of a batch",
    ("ml/_ic.py", "scipy.stats"): "~0.5 s: only for a rank IC of the ML stages",
    ("stats/_spa.py", "arch.bootstrap"): "arch loads statsmodels: ~2 s, only for the SPA test",
    ("stats/_sharpe.py", "scipy.special"): "~10 MiB, 0.1 s: only when a probability is asked",
    ("_urls.py", "sqlalchemy.engine"): "~15 MiB: only to check a storage URL's dialect",
    ("_urls.py", "sqlalchemy.exc"): "as sqlalchemy.engine",
    ("storage/_bulk.py", "optuna.storages._rdb"): "Optuna's ORM models: ~0.5 s, RDB only",
    ("storage/_retry.py", "sqlalchemy"): "~0.1 s of every command's start: RDB only",
    ("storage/_urls.py", "sqlalchemy"): "as in storage/_retry.py",
    ("storage/_urls.py", "sqlalchemy.engine"): "as sqlalchemy: an RDB URL's password only",
    ("storage/_urls.py", "sqlalchemy.exc"): "as sqlalchemy: a database error only",
    ("storage/_reader.py", "optuna.storages._rdb"): "Optuna's ORM models: ~0.5 s, RDB only",
    ("evaluation/_backtesting_py.py", "backtesting"): "optional (the `backtesting` extra): "
    "only a study naming a backtesting.py class needs it",
    ("reporting/_html.py", "jinja2"): "the report extra: optional, and only to write a report",
    ("reporting/_html.py", "markupsafe"): "the report extra's (jinja2's): as jinja2",
    ("reporting/_html.py", "plotly.offline"): "the report extra: optional, for the cdn mode",
}

# Where a stratopt module may be imported by name at run time.
DYNAMIC_IMPORTS = ("__init__.py", "_moved.py")

RANK = {pkg: rank for rank, group in enumerate(LAYERS) for pkg in group}


@dataclass(frozen=True)
class Violation:
    path: Path
    line: int
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(SRC.parent)}:{self.line}: {self.rule}: {self.detail}"


def _package(path: Path) -> str:
    """The package a module belongs to: the first part below stratopt/ ('' for the
    top-level __init__)."""
    rel = path.relative_to(ROOT)
    return rel.parts[0].removesuffix(".py") if rel.parts != ("__init__.py",) else ""


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, path: Path) -> str:
    """The absolute module of a `from ... import` (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = _module_name(path).split(".")
    if path.name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - node.level + 1]
    return ".".join([*base, *([node.module] if node.module else [])])


def _private(part: str) -> bool:
    return part.startswith("_") and not part.startswith("__")


class _Scanner(ast.NodeVisitor):
    def __init__(self, path: Path) -> None:
        self.path = path
        self.package = _package(path)
        self.kernel = path.name.endswith("_nb.py")
        self.depth = 0  # > 0 inside a function
        self.found: list[Violation] = []

    def flag(self, node: ast.AST, rule: str, detail: str) -> None:
        self.found.append(Violation(self.path, getattr(node, "lineno", 0), rule, detail))

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._inside(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._inside(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._inside(node)

    def _inside(self, node: ast.AST) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.check(node, alias.name, [])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self.check(node, _resolve(node, self.path), [a.name for a in node.names])

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in ("import_module", "__import__") and node.args:
            arg = node.args[0]
            literal = isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            target = arg.value if literal else ""  # type: ignore[union-attr]
            sanctioned = self.path.parent == ROOT and self.path.name in DYNAMIC_IMPORTS
            own = f"stratopt.{self.package}."
            if self.path.name == "__init__.py" and str(target).startswith(own):
                sanctioned = True  # a package's lazy name: its own module, no layer crossed
            if str(target).startswith("stratopt") and not sanctioned:
                self.flag(node, "dynamic", f"imports {target} by name")
        self.generic_visit(node)

    def check(self, node: ast.AST, module: str, names: list[str]) -> None:
        parts = module.split(".")
        if parts[0] != "stratopt":
            if self.depth and (self.rel, module) not in LAZY_IMPORTS:
                self.flag(node, "local-import", f"{module} imported inside a function")
            return
        if self.depth:
            self.flag(node, "local-import", f"{module} imported inside a function")
        if len(parts) == 1:  # `from stratopt import x`: x is the module imported
            for name in names:
                self.target(node, [*parts, name], [])
        else:
            self.target(node, parts, names)

    @property
    def rel(self) -> str:
        return str(self.path.relative_to(ROOT))

    def target(self, node: ast.AST, parts: list[str], names: list[str]) -> None:
        pkg = parts[1]
        if pkg == self.package:
            return
        if pkg in FOUNDATION:
            return
        if self.package in FOUNDATION:
            self.flag(node, "upward", f"foundation module imports stratopt.{pkg}")
            return
        self.layering(node, pkg)
        self.privacy(node, parts, names)

    def layering(self, node: ast.AST, pkg: str) -> None:
        if pkg not in RANK:
            return  # reported as unplaced
        if self.package == "":  # the top-level package: the facade over every layer
            return
        mine, theirs = RANK.get(self.package), RANK[pkg]
        if mine is not None and theirs <= mine:
            where = "the same layer as" if theirs == mine else "a layer above"
            self.flag(node, "upward", f"{self.package} imports {pkg}, {where} it")

    def privacy(self, node: ast.AST, parts: list[str], names: list[str]) -> None:
        private = [p for p in parts[2:] if _private(p)] + [n for n in names if _private(n)]
        if not private:
            return
        if self.kernel and all(p.endswith("_nb") for p in private):
            return  # compiled kernels call lower packages' kernels directly
        self.flag(node, "private", f"imports {'.'.join(parts)} {names or ''}".rstrip())


def scan() -> list[Violation]:
    found: list[Violation] = []
    for path in sorted(ROOT.rglob("*.py")):
        scanner = _Scanner(path)
        scanner.visit(ast.parse(path.read_text(), str(path)))
        found += scanner.found
        pkg = _package(path)
        if pkg and pkg not in RANK and pkg not in FOUNDATION:
            found.append(Violation(path, 1, "unplaced", f"package {pkg} has no layer in LAYERS"))
    return found


def test_layers_only_import_downward() -> None:
    found = scan()
    assert not found, f"{len(found)} layering violation(s):\n" + "\n".join(map(str, found))


def _write(tmp: Path, rel: str, text: str) -> Path:
    path = tmp / "stratopt" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("rel", "text", "rule"),
    [
        ("search/_x.py", "from stratopt.operations import optimize\n", "upward"),
        ("stats/_x.py", "from stratopt.storage import record\n", "upward"),
        ("validation/_x.py", "from stratopt.search._runner import run_trials\n", "private"),
        ("validation/_x.py", "from stratopt.search import _tell\n", "private"),
        ("operations/_x.py", "def f():\n    from stratopt.search import tell\n", "local-import"),
        ("operations/_x.py", "def f():\n    import scipy.stats\n", "local-import"),
        ("search/_x.py", "import importlib\nimportlib.import_module('stratopt.cli')\n", "dynamic"),
        (
            "search/__init__.py",
            "import importlib\nimportlib.import_module('stratopt.cli._app')\n",
            "dynamic",
        ),
        ("errors.py", "from stratopt.config import StudyConfig\n", "upward"),
    ],
)
def test_each_rule_is_reported_with_its_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rel: str, text: str, rule: str
) -> None:
    monkeypatch.setattr(f"{__name__}.SRC", tmp_path)
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path / "stratopt")
    path = _write(tmp_path, rel, text)
    found = scan()
    assert [v.rule for v in found] == [rule]
    assert str(found[0]).startswith(f"{tmp_path.name}/stratopt/{rel}:{found[0].line}: {rule}: ")
    assert found[0].path == path


def test_allowed_imports_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(f"{__name__}.SRC", tmp_path)
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path / "stratopt")
    _write(tmp_path, "operations/_x.py", "from stratopt.search import tell\nimport numpy\n")
    _write(tmp_path, "search/_y.py", "from stratopt.search._tell import tell\n")  # own package
    _write(tmp_path, "engine/_z_nb.py", "from stratopt.metrics._nb import ratio_nb\n")  # kernels
    _write(tmp_path, "cli/_c.py", "from stratopt._suggest import did_you_mean\n")  # foundation
    lazy = "import importlib\nimportlib.import_module('stratopt.search._runner')\n"
    _write(tmp_path, "search/__init__.py", lazy)  # a package's own lazy name
    assert scan() == []
