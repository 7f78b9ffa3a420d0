"""The CI scripts: scripts/readme-command (the README's commands, as CI runs them)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"


def load_script(name: str) -> ModuleType:
    """A script of scripts/ (no .py suffix) imported as a module."""
    loader = importlib.machinery.SourceFileLoader(name.replace("-", "_"), str(SCRIPTS / name))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[loader.name] = module
    loader.exec_module(module)
    return module


readme_command = load_script("readme-command")


def test_the_readme_marks_its_two_commands():
    commands = readme_command.readme_commands((ROOT / "README.md").read_text(), "README.md")
    assert sorted(commands) == ["install", "test"]
    # Prompt-free on a terminal, and only what is needed.
    for command in commands.values():
        for line in command.split(" && "):
            if " apt-get install" in f" {line}":
                assert line.startswith("DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "), line
    assert commands["install"].endswith(".venv/bin/debvenv check")
    assert commands["test"].endswith(".venv/bin/python -m pytest")


def test_the_command_is_printed_exactly(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# x\n\n<!-- readme-command: install -->\n```sh\napt-get update && echo 'a  b'\n```\n")
    completed = subprocess.run([sys.executable, str(SCRIPTS / "readme-command"), "install", str(readme)],
                               capture_output=True, text=True)
    assert (completed.returncode, completed.stdout, completed.stderr) == (0, "apt-get update && echo 'a  b'\n", "")


@pytest.mark.parametrize(
    "text, line",
    [
        ("<!-- readme-command: install -->\n\n```sh\ntrue\n```\n", 2),  # the fence must follow at once
        ("<!-- readme-command: install -->\n```\ntrue\n```\n", 2),  # not a sh block
        ("<!-- readme-command: install -->\n```sh\ntrue\n", 2),  # never closed
        ("<!-- readme-command: install -->\n```sh\n\n```\n", 2),  # empty
        ("<!-- readme-command: install -->\n```sh\na\n```\n<!-- readme-command: install -->\n```sh\nb\n```\n", 5),
    ],
    ids=["blank-line", "not-sh", "unclosed", "empty", "twice"],
)
def test_a_badly_marked_command_fails_naming_the_line(tmp_path, text, line):
    readme = tmp_path / "README.md"
    readme.write_text(text)
    completed = subprocess.run([sys.executable, str(SCRIPTS / "readme-command"), "install", str(readme)],
                               capture_output=True, text=True)
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert f"{readme}:{line}: " in completed.stderr
    assert "Traceback" not in completed.stderr


def test_a_missing_command_fails_loudly(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("```sh\napt-get install -y foo\n```\n")
    completed = subprocess.run([sys.executable, str(SCRIPTS / "readme-command"), "test", str(readme)],
                               capture_output=True, text=True)
    assert completed.returncode == 2
    assert "readme-command: test" in completed.stderr
    assert "Traceback" not in completed.stderr
