"""The ``genomix`` command line: thin click commands, one module per command family.

Each command parses its options and makes one library call. Only this package turns genomix's own
errors (:class:`genomix.errors.GenomixError`) into one clear line on stderr and exit code 1; any other
exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib

import click

from genomix import __version__

# command name -> "module:attribute"; imported only when the command runs, so --help stays fast.
_COMMANDS = {
    "build-dataset": "genomix.cli.build_dataset:build_dataset",
    "inspect": "genomix.cli.inspect:inspect_cmd",
    "train": "genomix.cli.train:train",
    "evaluate": "genomix.cli.train:evaluate",
    "baseline": "genomix.cli.train:baseline",
    "annotate": "genomix.cli.annotate:annotate",
    "score-variants": "genomix.cli.variants:score_variants",
    "export": "genomix.cli.export:export",
    "pretrain": "genomix.cli.pretrain:pretrain",
}


ARGV_KEY = "genomix.argv"


def command_line() -> list[str]:
    """The command being run, as the user typed it (``genomix build-dataset ...``), for provenance.

    Read from click's context, not ``sys.argv``: the same under the console script, ``CliRunner``
    and the demo.
    """
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return ["genomix"]
    return ["genomix", *ctx.find_root().meta.get(ARGV_KEY, [])]


class _LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (torch is slow to import)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[ARGV_KEY] = list(args)  # the raw command line, for provenance records
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = _COMMANDS.get(name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        return getattr(importlib.import_module(module_name), attribute)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="genomix")
def cli() -> None:
    """Classify long DNA sequences with ChordMixer: build datasets, train, evaluate, annotate."""


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="genomix")
