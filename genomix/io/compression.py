"""Open plain, gzip or BGZF text files the same way, and turn decoding failures into clear errors.

Compression is detected from the file's first bytes (gzip magic ``1f 8b``), not from its suffix, so
``.gz`` and ``.bgz`` files (BGZF is a series of gzip members) and misnamed files all read correctly.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import zlib
from collections.abc import Iterator
from typing import TextIO

from genomix.errors import InputFormatError

GZIP_MAGIC = b"\x1f\x8b"


def is_gzip(path: str | os.PathLike) -> bool:
    """Whether ``path`` starts with the gzip magic bytes (gzip and BGZF files do)."""
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def open_text(path: str | os.PathLike) -> TextIO:
    """Open a plain or gzip/BGZF-compressed file for reading UTF-8 text.

    Args:
        path: the file.

    Returns:
        A text handle; the caller closes it.
    """
    if is_gzip(path):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


@contextlib.contextmanager
def read_errors(path: str | os.PathLike, format_name: str) -> Iterator[None]:
    """Turn decompression and decoding failures inside the block into :class:`InputFormatError`.

    Args:
        path: the file being read, named in the message.
        format_name: what the file should be (``"GenBank"``, ``"FASTA"``, ...).
    """
    try:
        yield
    except EOFError as error:
        raise InputFormatError(
            f"{path}: truncated gzip file ({error}); expected a complete {format_name} file"
        ) from None
    except (gzip.BadGzipFile, zlib.error) as error:
        raise InputFormatError(f"{path}: corrupt gzip data ({error})") from None
    except UnicodeDecodeError as error:
        raise InputFormatError(
            f"{path}: not a text file (byte {error.start + 1:,} of a block is {error.object[error.start]:#04x}, "
            f"not UTF-8); expected a {format_name} file"
        ) from None
