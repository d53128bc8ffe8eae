"""VCF files through pysam (htslib): a lazy record reader and a writer for scored output.

Reading: plain VCF, BGZF-compressed VCF (``.vcf.gz``) and BCF open directly. A *plain* gzip VCF (not
BGZF) cannot be opened by htslib, so it is decompressed once into a temporary file first. A region
query (``region="chrM:1-500"``) needs an index: a BGZF file without its ``.tbi``/``.csi`` and a plain
gzip file raise :class:`~genomix.errors.InputFormatError` saying what to do.

A malformed record raises :class:`~genomix.errors.InputFormatError` naming the file, the line number
and the line itself; htslib's own messages on stderr are silenced while reading.

Writing: :class:`VcfWriter` keeps the input header, adds ``##INFO``/``##FILTER`` lines, writes to a
hidden temporary name beside the target and renames it when complete; a ``.gz``/``.bgz`` target is
BGZF-compressed and tabix-indexed (``.tbi``). Nothing is left at the target if writing fails.

No torch here (house rule 1).
"""

from __future__ import annotations

import contextlib
import errno
import gzip
import logging
import os
import shutil
import tempfile
import warnings
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pysam

from genomix.errors import ConfigError, InputFormatError, OutputError
from genomix.files import create_temporary, write_failure_reason
from genomix.validation import check_region_contig, parse_region
from genomix.io.compression import GZIP_MAGIC

logger = logging.getLogger(__name__)

WRITE_SUFFIXES = (".vcf", ".vcf.gz", ".vcf.bgz")
SYMBOLIC_MARKERS = ("<", "[", "]", "*", ".")


@dataclass(frozen=True)
class VcfRecord:
    """One VCF record (one line; several ALTs stay together).

    Attributes:
        number: 1-based record number in the file (header lines not counted).
        chrom: CHROM as written.
        pos: POS, 1-based.
        id: ID, or ``None`` for ``.``.
        ref: REF, upper case.
        alts: the ALT alleles as written (empty for ``.``).
        record: the pysam record (INFO values: ``record.info``; the writer copies it).
    """

    number: int
    chrom: str
    pos: int
    id: str | None
    ref: str
    alts: tuple[str, ...]
    record: Any

    @property
    def where(self) -> str:
        """``record 12 (chrM:3,902)`` for messages."""
        return f"record {self.number:,} ({self.chrom}:{self.pos:,})"

    def info_value(self, field: str) -> Any:
        """The value of one INFO field (``None`` when absent); a one-element tuple is unwrapped."""
        try:
            value = self.record.info[field] if field in self.record.info else None
        except (KeyError, ValueError):
            return None
        if isinstance(value, tuple) and len(value) == 1:
            return value[0]
        return value


def is_symbolic(allele: str) -> bool:
    """Whether an ALT is symbolic (``<DEL>``, ``*``, breakends, ``.``) rather than bases."""
    return not allele or any(marker in allele for marker in SYMBOLIC_MARKERS)


def is_bgzf(path: str | os.PathLike) -> bool:
    """Whether ``path`` is BGZF (gzip whose first member carries the ``BC`` extra subfield)."""
    with open(path, "rb") as handle:
        head = handle.read(18)
    return len(head) >= 18 and head[:2] == GZIP_MAGIC and head[3] & 4 == 4 and head[12:14] == b"BC"


def has_index(path: str | os.PathLike) -> bool:
    """Whether a ``.tbi`` or ``.csi`` index lies beside ``path``."""
    return any(os.path.exists(f"{path}{suffix}") for suffix in (".tbi", ".csi"))


class VcfReader:
    """Read a VCF lazily; use as a context manager.

    Args:
        path: ``.vcf``, ``.vcf.gz`` (BGZF or plain gzip) or ``.bcf``.
        region: optional ``CHROM[:START-END]`` (1-based, inclusive); needs an index.

    Attributes:
        path: the file as given.
        header: the ``pysam.VariantHeader``.

    Raises:
        FileNotFoundError: no such file.
        InputFormatError: not a VCF/BCF file; a region on an unindexed or plain gzip file.
    """

    def __init__(self, path: str | os.PathLike, *, region: str | None = None) -> None:
        self.path = str(path)
        self.region = region
        self._interval = parse_region(region) if region is not None else None  # a bad region fails first
        if not os.path.isfile(self.path):
            raise FileNotFoundError(2, "No such file", self.path)
        self._temporary: str | None = None
        self._opened_path = self._readable_path()
        self._file = self._open(self._opened_path)
        self.header = self._file.header
        if region is not None:
            indexed = list(self._file.index) if self._file.index is not None else []
            try:
                check_region_contig(region, dict.fromkeys([*self.header.contigs, *indexed]),
                                    where=f"{self.path} (its header and index)")
            except ConfigError:
                self.close()
                raise

    def _readable_path(self) -> str:
        with open(self.path, "rb") as handle:
            gzipped = handle.read(2) == GZIP_MAGIC
        if gzipped and not is_bgzf(self.path):
            if self.region is not None:
                raise InputFormatError(
                    f"{self.path}: plain gzip, not BGZF, so it cannot be indexed for --region {self.region}; "
                    f"recompress it with `bgzip` and index it with `tabix -p vcf`")
            return self._decompress()
        if self.region is not None and not has_index(self.path):
            raise InputFormatError(
                f"{self.path}: a region ({self.region}) needs an index, but there is no {self.path}.tbi or "
                f".csi; create one with `tabix -p vcf {self.path}` (the file must be BGZF-compressed)")
        return self.path

    def _decompress(self) -> str:
        logger.info("%s: plain gzip (not BGZF); decompressing into a temporary file for htslib", self.path)
        descriptor, temporary = tempfile.mkstemp(prefix="genomix-", suffix=".vcf")
        self._temporary = temporary
        try:
            with os.fdopen(descriptor, "wb") as out, gzip.open(self.path, "rb") as source:
                shutil.copyfileobj(source, out, 1 << 20)
        except (EOFError, OSError) as error:
            self.close()
            raise InputFormatError(f"{self.path}: corrupt or truncated gzip data ({error})") from None
        return temporary

    def _open(self, path: str) -> pysam.VariantFile:
        try:
            with _quiet_htslib():
                return pysam.VariantFile(path)
        except (ValueError, OSError) as error:
            self.close()
            raise InputFormatError(f"{self.path}: not a VCF/BCF file (htslib: {error}); expected a "
                                   f"'##fileformat=VCF' header and a '#CHROM' line") from None

    @property
    def contigs(self) -> list[str]:
        """Contigs declared in the header (``##contig`` lines)."""
        return list(self.header.contigs)

    def __iter__(self) -> Iterator[VcfRecord]:
        """Yield the records in file order (or the region's records).

        Raises:
            InputFormatError: a malformed record (the message names file, line number and line).
        """
        iterator = self._fetch() if self.region else iter(self._file)
        number = 0
        while True:
            try:
                with _quiet_htslib():
                    record = next(iterator)
            except StopIteration:
                return
            except (OSError, ValueError) as error:
                damage = _compression_damage(self._opened_path)
                if damage is not None:
                    raise InputFormatError(f"{self.path}: corrupt compressed data after record {number:,} "
                                           f"({damage}); the file is damaged: download or compress it again") from None
                raise InputFormatError(self._describe_bad_record(number + 1, error)) from None
            number += 1
            alts = tuple(record.alts or ())
            yield VcfRecord(number=number, chrom=record.chrom, pos=record.pos, id=record.id,
                            ref=(record.ref or "").upper(), alts=alts, record=record)

    def _fetch(self) -> Iterator:
        contig, start, end = self._interval
        try:
            return self._file.fetch(contig, None if start is None else start - 1, end)
        except ValueError:  # declared in the header, but the index holds no record on it
            logger.info("%s: no record on %s (--region %s)", self.path, contig, self.region)
            return iter(())

    def _describe_bad_record(self, number: int, error: Exception) -> str:
        where = f"record {number:,}"
        if self.region is None:
            line_number, line = _find_record_line(self._opened_path, number)
            if line_number:
                shown = line if len(line) <= 120 else line[:117] + "..."
                where = f"line {line_number:,} (record {number:,}): {shown!r}"
        return (f"{self.path}: malformed VCF record at {where}; expected 8+ tab-separated columns "
                f"CHROM POS ID REF ALT QUAL FILTER INFO with an integer POS (htslib: {error})")

    def close(self) -> None:
        """Close the file and remove any temporary decompressed copy."""
        handle = getattr(self, "_file", None)
        self._file = None
        try:
            if handle is not None:
                handle.close()
        except OSError as error:  # htslib reports a read error again on close ("Closing failed: Success")
            damage = _compression_damage(self._opened_path) or error.strerror or str(error)
            raise InputFormatError(f"{self.path}: could not be read to the end ({damage})") from None
        finally:
            if self._temporary is not None:
                Path(self._temporary).unlink(missing_ok=True)
                self._temporary = None

    def __enter__(self) -> "VcfReader":
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        try:
            self.close()
        except InputFormatError:
            if exc_type is None:  # otherwise the error in flight says more
                raise


def _compression_damage(path: str) -> str | None:
    """What is wrong with the gzip/BGZF data of ``path`` (``None``: not compressed, or intact)."""
    try:
        with open(path, "rb") as handle:
            if handle.read(2) != GZIP_MAGIC:
                return None
        with gzip.open(path, "rb") as handle:
            while handle.read(1 << 22):
                pass
    except (OSError, EOFError, zlib.error) as error:
        return f"{type(error).__name__}: {error}"
    return None


def _find_record_line(path: str, number: int) -> tuple[int | None, str]:
    """Line number and text of the ``number``-th record line (1-based) of a text or gzip VCF."""
    try:
        opener = gzip.open if is_bgzf(path) else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            seen = 0
            for line_number, line in enumerate(handle, start=1):
                if line.startswith("#") or not line.strip():
                    continue
                seen += 1
                if seen == number:
                    return line_number, line.rstrip("\n")
    except (OSError, EOFError, zlib.error):
        pass
    return None, ""


@contextlib.contextmanager
def _quiet_htslib() -> Iterator[None]:
    previous = pysam.set_verbosity(0)
    try:
        yield
    finally:
        pysam.set_verbosity(previous)


# ------------------------------------------------------------------------------------------ writing


@dataclass(frozen=True)
class InfoField:
    """A new ``##INFO`` line.

    Attributes:
        id: the key.
        number: ``"A"`` (one per ALT), ``"1"``, ``"."``...
        type: ``"Float"``, ``"Integer"``, ``"String"`` or ``"Flag"``.
        description: the text.
    """

    id: str
    number: str
    type: str
    description: str


def check_output_path(path: str | os.PathLike) -> None:
    """Raise unless ``path`` ends with a VCF suffix :class:`VcfWriter` can write.

    Raises:
        ConfigError: naming the known suffixes.
    """
    if not str(path).endswith(WRITE_SUFFIXES):
        raise ConfigError(f"cannot write VCF to {path}: the name should end with one of "
                          f"{', '.join(WRITE_SUFFIXES)} (compressed and tabix-indexed for .gz/.bgz)")


class VcfWriter:
    """Write records with the header of an input VCF plus new INFO and FILTER lines.

    Args:
        path: target ``.vcf`` (plain) or ``.vcf.gz``/``.vcf.bgz`` (BGZF + ``.tbi``).
        header: the input's ``pysam.VariantHeader`` (copied, not changed).
        info: new INFO fields.
        filters: new FILTER ids -> description.
        command: recorded as a ``##genomix_command`` header line when given.

    Use as a context manager: the file appears at ``path`` only when the block ends without error.
    """

    def __init__(self, path: str | os.PathLike, header: pysam.VariantHeader, *,
                 info: Sequence[InfoField] = (), filters: dict[str, str] | None = None,
                 command: str | None = None) -> None:
        check_output_path(path)
        self.path = Path(path)
        self.compressed = not str(path).endswith(".vcf")
        self.header = header.copy()
        for field in info:
            if field.id in self.header.info:
                raise ConfigError(f"the input VCF already has an INFO field {field.id!r}; "
                                  f"genomix would overwrite it")
            self.header.add_meta("INFO", items=[("ID", field.id), ("Number", field.number),
                                                ("Type", field.type), ("Description", field.description)])
        if "END" not in self.header.info:  # pysam adds END on writing a symbolic ALT; declare it up front
            self.header.add_meta("INFO", items=[("ID", "END"), ("Number", "1"), ("Type", "Integer"),
                                                ("Description", "End position of the variant (VCF reserved key)")])
        for name, description in (filters or {}).items():
            if name not in self.header.filters:
                self.header.add_meta("FILTER", items=[("ID", name), ("Description", description)])
        if command:
            self.header.add_line(f"##genomix_command={command}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = create_temporary(self.path)  # mode 0o666 less the umask
        os.close(descriptor)
        self._temporary = str(temporary)
        self._file = pysam.VariantFile(self._temporary, "wz" if self.compressed else "w", header=self.header)

    def write(self, record: Any, *, info: dict[str, Any] | None = None, filters: Sequence[str] = ()) -> None:
        """Write one input record with new INFO values and FILTERs added (the rest kept as read).

        Args:
            record: a ``pysam.VariantRecord`` from the input file.
            info: new INFO key -> value (a tuple, one per ALT, for ``Number=A``; ``None`` entries are ``.``).
            filters: FILTER ids to add.
        """
        undeclared = [f"INFO/{key}" for key in record.info if key not in self.header.info]
        undeclared += [f"FILTER/{key}" for key in record.filter if key not in self.header.filters]
        if undeclared:
            raise InputFormatError(
                f"{record.chrom}:{record.pos:,}: {', '.join(undeclared)} is used but not declared in the input "
                f"VCF's header; add its ##INFO/##FILTER line to the input so the output stays valid")
        record.translate(self.header)
        for key, value in (info or {}).items():
            if value is not None:
                record.info[key] = value
        for name in filters:
            record.filter.add(name)
        self._file.write(record)

    def close(self, *, keep: bool = True) -> None:
        """Finish: compress + index and rename into place (``keep``), or remove the temporary file."""
        if self._file is None:
            return
        temporary = Path(self._temporary)
        try:
            self._file.close()
        except OSError as error:
            temporary.unlink(missing_ok=True)
            if not keep:
                return
            reason = write_failure_reason(error, path=temporary)
            raise OutputError(error.errno or errno.EIO, f"cannot write {self.path}: {reason}; nothing was "
                              "written there", str(self.path)) from None
        finally:
            self._file = None
        if not keep:
            temporary.unlink(missing_ok=True)
            return
        try:
            index = self._index(temporary) if self.compressed else None
            os.replace(temporary, self.path)
            if index is not None:
                os.replace(index, f"{self.path}.tbi")
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    def _index(self, temporary: Path) -> Path | None:
        try:
            with _quiet_htslib():
                pysam.tabix_index(str(temporary), preset="vcf", force=True, keep_original=True)
        except (OSError, ValueError) as error:
            Path(f"{temporary}.tbi").unlink(missing_ok=True)
            warnings.warn(f"{self.path}: written without a tabix index ({error}); the input is probably "
                          f"not sorted by position", stacklevel=3)
            return None
        return Path(f"{temporary}.tbi")

    def __enter__(self) -> "VcfWriter":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        self.close(keep=exc_type is None)
