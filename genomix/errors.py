"""genomix's own exceptions: one place, each a subclass of a built-in.

The CLI turns these (and only these) into one clear line on stderr and a non-zero exit; any other
exception is a bug and keeps its traceback.
"""


class GenomixError(Exception):
    """Base class for errors a user can cause (bad file, bad option, bad data)."""


class InputFormatError(GenomixError, ValueError):
    """An input file (GenBank, FASTA, VCF, TSV, ...) cannot be read as the format it claims."""


class AlphabetError(GenomixError, ValueError):
    """A sequence holds a character that is not in the alphabet."""


class DatasetFormatError(GenomixError, ValueError):
    """A dataset file is not a genomix dataset, or not one this version can read."""


class ConfigError(GenomixError, ValueError):
    """A configuration key or value is unknown or invalid."""


class CheckpointError(GenomixError, ValueError):
    """A checkpoint is not a genomix checkpoint, or does not fit the data it is used with."""


class OutputError(GenomixError, OSError):
    """An output file could not be written (disk or quota full, an interrupted write); nothing was left.

    Built like ``OSError(errno, message, filename)``; its text is the message alone, one clear line.
    """

    def __str__(self) -> str:
        return str(self.strerror) if self.strerror else super().__str__()
