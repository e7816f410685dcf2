"""Layers import downward only: core <- twin <- data <- fm <- edge <- federated/apps/agents <- service/cli."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "airan"
RANK = {"core": 0, "twin": 1, "data": 2, "fm": 3, "edge": 4, "federated": 5, "apps": 5, "agents": 5,
        "service": 6, "dashboard": 6, "cli": 7}


def _imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def test_src_exists():
    assert (SRC / "twin" / "env.py").exists()


@pytest.mark.parametrize("pkg", sorted(p.name for p in SRC.iterdir() if p.is_dir() and p.name in RANK))
def test_no_upward_imports(pkg):
    bad = []
    for f in (SRC / pkg).rglob("*.py"):
        for mod in _imports(f):
            parts = mod.split(".")
            if parts[0] == "airan" and len(parts) > 1 and parts[1] in RANK and RANK[parts[1]] > RANK[pkg]:
                bad.append(f"{f.relative_to(SRC)} imports {mod}")
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_only_the_adapter_imports_sionna():
    offenders = [str(f.relative_to(SRC)) for f in SRC.rglob("*.py")
                 if "adapter" not in f.parts and any(m.split(".")[0] == "sionna" for m in _imports(f))]
    assert not offenders, offenders
