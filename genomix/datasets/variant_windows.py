"""Where a VCF variant sits on the reference, and its reference and alternative windows.

Shared by the variant-effect builder and by variant scoring, so that training and scoring see the
same windows.

**Window convention.** For a variant whose REF allele starts at 0-based position ``p`` of a reference
record of length ``C``, and a window of ``W`` bases::

    start = max(0, p - W // 2)          end = min(C, p - W // 2 + W)
    ref_window = reference[start:end]
    alt_window = ref_window[:p - start] + ALT + ref_window[p - start + len(REF):]

so the REF start sits at index ``W // 2`` of the window (for even ``W`` the first base right of the
middle), the window covers ``W // 2`` bases before it and ``W - W // 2 - 1`` after it, and windows
at a record's ends are clipped, never padded (``variant_offset = p - start`` says where the variant
is). The alternative window has the same flanks as the reference window, with REF replaced by ALT:
its length is ``len(ref_window) - len(REF) + len(ALT)`` (SNVs keep the length, deletions shorten,
insertions lengthen). If REF runs past the window's end, the part beyond is dropped with it.

**Locating.** A record's CHROM is renamed by ``contig_aliases`` (``{"chrM": "NC_012920.1"}``) and must
then be a record of the reference. With ``element_field`` (e.g. ``"ELEMENT"``, for MPRA element
references), the reference record is the record's INFO value instead, and its header must give the
element's genomic interval as ``CHROM:START-END`` (1-based, inclusive): the variant's position is
translated into the element.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from genomix.errors import ConfigError, InputFormatError
from genomix.io.reference import Reference
from genomix.io.vcf import VcfRecord

_INTERVAL = re.compile(r"(?:^|\s)([^\s:]+):([\d,]+)-([\d,]+)(?:\s|$)")


@dataclass(frozen=True)
class Locus:
    """Where a variant's REF lies.

    Attributes:
        contig: the reference record.
        start: 0-based start of REF on ``contig``.
        end: 0-based end (exclusive) of REF on ``contig``.
        genomic_chrom: chromosome used to tell overlapping windows apart (``contig``, or the
            element's chromosome with ``element_field``).
        genomic_shift: add to a ``contig`` coordinate to get a ``genomic_chrom`` coordinate.
    """

    contig: str
    start: int
    end: int
    genomic_chrom: str
    genomic_shift: int = 0


@dataclass(frozen=True)
class AlleleWindows:
    """The two windows of one (variant, ALT).

    Attributes:
        contig: the reference record.
        start: 0-based start of ``ref_window`` on ``contig``.
        variant_offset: index of the REF start inside both windows.
        ref_window: reference bases, upper case.
        alt_window: the same window with REF replaced by ALT.
    """

    contig: str
    start: int
    variant_offset: int
    ref_window: str
    alt_window: str

    @property
    def end(self) -> int:
        """0-based end (exclusive) of ``ref_window`` on ``contig``."""
        return self.start + len(self.ref_window)


def parse_contig_aliases(pairs: list[str] | tuple[str, ...] | None) -> dict[str, str]:
    """``["chrM=NC_012920.1", ...]`` (or comma-separated) -> ``{"chrM": "NC_012920.1"}``.

    Raises:
        ConfigError: an entry is not ``VCF_NAME=REFERENCE_NAME``.
    """
    aliases: dict[str, str] = {}
    for text in pairs or ():
        for pair in filter(None, (part.strip() for part in text.split(","))):
            name, sep, target = pair.partition("=")
            if not sep or not name.strip() or not target.strip():
                raise ConfigError(f"--contig-alias must be VCF_NAME=REFERENCE_NAME (e.g. chrM=NC_012920.1), "
                                  f"got {pair!r}")
            aliases[name.strip()] = target.strip()
    return aliases


def check_window(window: int) -> int:
    """Raise unless the window size is a positive integer; return it."""
    if int(window) != window or window < 1:
        raise ConfigError(f"--window must be a positive number of bases, got {window!r}")
    return int(window)


class VariantLocator:
    """Places VCF records on a reference and cuts their windows.

    Args:
        reference: the open reference.
        vcf_path: the VCF, named in messages.
        contig_aliases: VCF CHROM -> reference record name.
        element_field: INFO field naming the reference record (element references), or ``None``.
    """

    def __init__(self, reference: Reference, *, vcf_path: str, contig_aliases: dict[str, str] | None = None,
                 element_field: str | None = None) -> None:
        self.reference = reference
        self.vcf_path = vcf_path
        self.aliases = dict(contig_aliases or {})
        self.element_field = element_field
        self._elements: dict[str, tuple[str, int]] = {}

    def locate(self, record: VcfRecord) -> Locus | None:
        """The locus of a record's REF, or ``None`` when REF is not inside its reference record.

        Raises:
            InputFormatError: the record's contig (or element) is not in the reference.
        """
        if self.element_field is not None:
            return self._locate_in_element(record)
        contig = self.aliases.get(record.chrom, record.chrom)
        if contig not in self.reference:
            raise InputFormatError(self._missing_contig(record, contig))
        start = record.pos - 1
        end = start + len(record.ref)
        if start < 0 or end > self.reference.lengths[contig]:
            return None
        return Locus(contig=contig, start=start, end=end, genomic_chrom=contig)

    def _locate_in_element(self, record: VcfRecord) -> Locus | None:
        element = record.info_value(self.element_field)
        if element is None:
            raise InputFormatError(f"{self.vcf_path}: {record.where} has no INFO/{self.element_field}, "
                                   f"which names its element in the reference")
        element = str(element)
        if element not in self.reference:
            raise InputFormatError(self._missing_contig(record, element, what=f"element (INFO/{self.element_field})"))
        chrom, first = self._element_interval(element)
        if _plain_chrom(self.aliases.get(record.chrom, record.chrom)) != _plain_chrom(chrom):
            return None
        start = record.pos - first
        end = start + len(record.ref)
        if start < 0 or end > self.reference.lengths[element]:
            return None
        return Locus(contig=element, start=start, end=end, genomic_chrom=_plain_chrom(chrom), genomic_shift=first - 1)

    def _element_interval(self, element: str) -> tuple[str, int]:
        if element not in self._elements:
            match = _INTERVAL.search(self.reference.descriptions[element])
            if match is None:
                raise InputFormatError(
                    f"{self.reference.path}: record {element!r} has no genomic interval in its header "
                    f"(expected 'CHROM:START-END', found {self.reference.descriptions[element]!r}); "
                    f"element references need one")
            self._elements[element] = (match.group(1), int(match.group(2).replace(",", "")))
        return self._elements[element]

    def _missing_contig(self, record: VcfRecord, name: str, *, what: str = "contig") -> str:
        known = list(self.reference.lengths)
        shown = ", ".join(known[:8]) + (f", ... ({len(known)} in all)" if len(known) > 8 else "")
        alias = f" (CHROM {record.chrom!r} renamed by --contig-alias)" if name != record.chrom and what == "contig" else ""
        hint = "; map names with --contig-alias VCF_NAME=REFERENCE_NAME" if what == "contig" else ""
        return (f"{self.vcf_path}: {record.where}: {what} {name!r}{alias} is not in the reference "
                f"{self.reference.path} (its records: {shown}){hint}")

    def reference_allele(self, locus: Locus) -> str:
        """The reference bases under REF (upper case)."""
        return self.reference.fetch(locus.contig, locus.start, locus.end)

    def windows(self, locus: Locus, ref: str, alt: str, *, window: int) -> AlleleWindows:
        """The reference and alternative windows of one ALT (see the module docstring).

        Args:
            locus: from :meth:`locate`.
            ref: the REF allele (its bases are not re-checked here).
            alt: one non-symbolic ALT allele.
            window: ``W``, bases.
        """
        length = self.reference.lengths[locus.contig]
        start = max(0, locus.start - window // 2)
        end = min(length, locus.start - window // 2 + window)
        ref_window = self.reference.fetch(locus.contig, start, end)
        offset = locus.start - start
        alt_window = ref_window[:offset] + alt.upper() + ref_window[offset + len(ref):]
        return AlleleWindows(contig=locus.contig, start=start, variant_offset=offset, ref_window=ref_window,
                             alt_window=alt_window)


def _plain_chrom(name: str) -> str:
    return name[3:] if name.lower().startswith("chr") else name
