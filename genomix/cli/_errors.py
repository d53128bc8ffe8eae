"""Turn genomix's own errors into click errors: one line on stderr, exit code 1."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import click

from genomix.errors import GenomixError

F = TypeVar("F", bound=Callable)


def user_errors(function: F) -> F:
    """Decorate a click command so a :class:`GenomixError` (or ``OSError``) becomes one clean line."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except GenomixError as error:
            raise click.ClickException(str(error)) from None
        except OSError as error:
            where = f": {error.filename}" if getattr(error, "filename", None) else ""
            raise click.ClickException(f"{error.strerror or error}{where}") from None

    return wrapper  # type: ignore[return-value]
