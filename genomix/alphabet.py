"""Alphabets: how characters become the ``uint8`` tokens that datasets store and models read.

Token 0 is padding and is never produced by an encoder. DNA: ``A C G T N`` are 1..5, then the IUPAC
ambiguity codes; lower case (soft-masking) maps to the same token as upper case; ``U`` is read as
``T``. Anything else raises :class:`~genomix.errors.AlphabetError` naming the record and position.

numpy only (no torch), so the I/O layer can use it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genomix.errors import AlphabetError

DNA_LETTERS = "ACGTN" + "RYSWKMBDHV"
"""Token ``i + 1`` is ``DNA_LETTERS[i]``."""

_COMPLEMENT = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N", "R": "Y", "Y": "R", "S": "S",
               "W": "W", "K": "M", "M": "K", "B": "V", "V": "B", "D": "H", "H": "D"}


@dataclass(frozen=True)
class Alphabet:
    """A mapping from bytes to tokens.

    Attributes:
        name: ``"dna"`` or ``"bytes"``.
        letters: the decoded letter of each token ``1..len(letters)`` (empty for ``bytes``).
    """

    name: str
    letters: str

    @property
    def vocab_size(self) -> int:
        """Number of embedding rows a model needs, padding included."""
        return 256 if self.name == "bytes" else len(self.letters) + 1

    @property
    def vocab(self) -> dict[str, int]:
        """Letter -> token, as stored in a dataset's ``vocab`` attribute."""
        if self.name == "bytes":
            return {"<byte>": "token = byte value (1..255); NUL is not allowed"}
        return {letter: i + 1 for i, letter in enumerate(self.letters)}

    def encode(self, sequence: str | bytes, *, record: str = "?") -> np.ndarray:
        """Encode a sequence to a ``uint8`` token array of the same length.

        Args:
            sequence: the letters (``str`` or ASCII ``bytes``).
            record: the record's id, used in error messages.

        Raises:
            AlphabetError: a character is not in the alphabet; the message names record and position.
        """
        raw = sequence.encode("ascii", "replace") if isinstance(sequence, str) else bytes(sequence)
        codes = np.frombuffer(raw, dtype=np.uint8)
        if self.name == "bytes":
            # Token = byte value, so any UTF-8 text fits uint8; byte 0 is the padding token.
            raw = sequence.encode("utf-8") if isinstance(sequence, str) else bytes(sequence)
            tokens = np.frombuffer(raw, dtype=np.uint8).copy()
            if tokens.size and not tokens.all():
                position = int(np.flatnonzero(tokens == 0)[0])
                raise AlphabetError(f"record {record} at byte {position + 1:,}: NUL bytes are not allowed")
            return tokens
        tokens = _DNA_TABLE[codes]
        if tokens.size and not tokens.all():
            position = int(np.flatnonzero(tokens == 0)[0])
            char = chr(codes[position]) if codes[position] < 128 else f"\\x{codes[position]:02x}"
            raise AlphabetError(
                f"record {record} at base {position + 1:,}: {char!r} is not a DNA letter "
                f"(expected one of {self.letters}, upper or lower case)"
            )
        return tokens

    def decode(self, tokens: np.ndarray) -> str:
        """Decode tokens back to upper-case letters (or UTF-8 text for ``bytes``)."""
        tokens = np.asarray(tokens, dtype=np.uint8)
        if self.name == "bytes":
            return tokens.tobytes().decode("utf-8", "replace")
        return _DNA_LETTER_BYTES[tokens].tobytes().decode("ascii")


def _dna_table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint8)
    for i, letter in enumerate(DNA_LETTERS):
        table[ord(letter)] = i + 1
        table[ord(letter.lower())] = i + 1
    table[ord("U")] = table[ord("u")] = DNA_LETTERS.index("T") + 1
    return table


_DNA_TABLE = _dna_table()
_DNA_LETTER_BYTES = np.frombuffer(b"?" + DNA_LETTERS.encode() + b"?" * (255 - len(DNA_LETTERS)),
                                  dtype=np.uint8)

DNA = Alphabet("dna", DNA_LETTERS)
BYTES = Alphabet("bytes", "")
ALPHABETS = {"dna": DNA, "bytes": BYTES}

COMPLEMENT_TOKENS = np.arange(256, dtype=np.uint8)
for _letter, _partner in _COMPLEMENT.items():
    COMPLEMENT_TOKENS[DNA_LETTERS.index(_letter) + 1] = DNA_LETTERS.index(_partner) + 1


def reverse_complement(tokens: np.ndarray) -> np.ndarray:
    """Reverse complement of DNA tokens (padding stays padding)."""
    return COMPLEMENT_TOKENS[np.asarray(tokens, dtype=np.uint8)[::-1]]
