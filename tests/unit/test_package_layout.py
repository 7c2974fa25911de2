"""The agent's house rules that import-linter cannot state: commands reach a capability package only
through its root (the names its ``__init__`` exports), a command never imports another command (only the
shared flag registry, ``options``), and every package root says what it is."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

AGENT = Path(__file__).resolve().parents[2] / "agent"
PACKAGES = sorted(p.name for p in AGENT.iterdir() if (p / "__init__.py").exists() and p.name != "commands")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    found = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    return found + [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]


def _agent_imports(path: Path) -> list[str]:
    return [m for m in _imports(path) if m.startswith("agent.") and not m.startswith("agent.commands")]


def test_commands_import_package_roots_only() -> None:
    deep = {f"{path.name}: {module}" for path in (AGENT / "commands").glob("*.py")
            for module in _agent_imports(path) if module.count(".") > 1}
    assert deep == set()


def test_commands_do_not_import_each_other() -> None:
    # A flow one command shares with another belongs in a package (e.g. verify's text in agent.drill).
    crossing = {f"{path.name}: {module}" for path in (AGENT / "commands").glob("*.py") for module in _imports(path)
                if module.startswith("agent.commands") and module != "agent.commands.options"}
    assert crossing == set()


def test_every_package_root_documents_itself_and_exports_what_it_names() -> None:
    assert {"backup", "restore", "verify", "pitr", "retention", "status", "drill", "common"} <= set(PACKAGES)
    for name in PACKAGES:
        module = importlib.import_module(f"agent.{name}")
        assert module.__doc__, f"agent/{name}/__init__.py has no docstring"
        for exported in getattr(module, "__all__", []):
            assert hasattr(module, exported), f"agent.{name} lists {exported} but does not define it"


def test_agent_top_level_holds_only_the_entry_points() -> None:
    flat = sorted(p.name for p in AGENT.glob("*.py"))
    assert flat == ["__init__.py", "__main__.py", "cli.py"]
