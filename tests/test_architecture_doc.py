"""docs/architecture.md shows the example plug-in's files verbatim, and its registration lines are the
plug-in's real entry points (so the page cannot drift from the code the tests run)."""
from __future__ import annotations

import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "architecture.md").read_text()
PLUGIN = ROOT / "tests" / "plugins"


def test_every_example_file_is_shown_verbatim():
    blocks = re.findall(r"```python\n# file: (example_plugin/\w+\.py)\n(.*?)```", DOC, re.S)
    shown = {name for name, _ in blocks}
    assert shown == {f"example_plugin/{p.name}" for p in (PLUGIN / "example_plugin").glob("*.py")
                     if p.name != "__init__.py"}
    for name, text in blocks:
        assert text == (PLUGIN / name).read_text(), f"{name} on the page differs from the file"


def test_registration_lines_are_the_plugins_entry_points():
    eps = configparser.ConfigParser()
    eps.read(PLUGIN / "mathnas_bench_example-0.1.dist-info" / "entry_points.txt")
    shown = re.findall(r'\[project\.entry-points\."(mathnas_bench\.\w+)"\]\n(\S+) = "([^"]+)"', DOC)
    assert len(shown) == 5
    for group, name, value in shown:
        assert eps[group][name] == value


def test_layers_on_the_page_are_the_import_linter_layers():
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    diagram = DOC.split("## Layers", 1)[1].split("```")[1]
    order = [w for line in diagram.strip().splitlines() for w in line.split("  ")[0].split(" | ")]
    assert order == [pkg.strip() for layer in layers for pkg in layer.split("|")]
