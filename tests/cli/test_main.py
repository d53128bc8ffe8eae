"""The ``genomix`` entry point: version, help, and every command's help."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from genomix import __version__
from genomix.cli import _COMMANDS, cli


def test_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"genomix, version {__version__}"


def test_help_lists_every_command():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in _COMMANDS:
        assert name in result.output


@pytest.mark.parametrize("name", sorted(_COMMANDS))
def test_each_command_has_help(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output


def test_unknown_command_is_a_usage_error():
    result = CliRunner().invoke(cli, ["trian"])
    assert result.exit_code == 2
    assert "No such command 'trian'" in result.output


def test_console_script_and_module_entry_point():
    completed = subprocess.run([sys.executable, "-c", "from genomix.cli import main; main()", "--version"],
                               capture_output=True, text=True, check=False)
    assert completed.returncode == 0
    assert __version__ in completed.stdout
