"""The Python API: ``model = genomix.load(PATH)``, then ``predict``, ``predict_windows``, ``score_variants``.

A :class:`Model` is a checkpoint (``best.pt``) or an exported folder loaded once, with the device and
precision it runs with. Its methods are the CLI's commands on Python objects and call the same
library functions (:func:`genomix.inference.annotate.stream_predictions`,
:func:`genomix.inference.variants.score_table`), so ``model.predict(fasta)`` equals
``genomix annotate MODEL FASTA --out x.tsv`` row for row, and ``model.score_variants`` equals the
``GMX_SCORE``/``GMX_DIFF`` of ``genomix score-variants``. Tables are pandas DataFrames with the columns
of the CLI's files.

Sequences may be given as one string, a list of strings, a ``{id: sequence}`` mapping, Biopython
``SeqRecord`` objects, genomix ``FastaRecord`` objects, or a FASTA path (``pathlib.Path``, or a string
naming an existing file; plain, gzip or BGZF). Strings without ids are named ``seq0``, ``seq1``, ...
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from genomix.checkpoint import load_model
from genomix.errors import ConfigError, InputFormatError
from genomix.inference.annotate import (
    DEFAULT_MAX_TOKENS,
    AnnotateSummary,
    _check_options,
    classifier_classes,
    stream_predictions,
)
from genomix.io.fasta import FastaRecord
from genomix.io.fasta_stream import FastaStream
from genomix.io.bed import BED_COLUMNS
from genomix.io.predictions import RecordPrediction, clean_field
from genomix.precision import PRECISIONS
from genomix.validation import resolve_device

Sequences = Any
"""What :meth:`Model.predict` takes: see the module docstring."""


def load(path: str | os.PathLike, *, device: str = "auto", precision: str = "auto") -> Model:
    """Load a model for prediction: a ``best.pt`` written by ``genomix train``, or a ``genomix export`` folder.

    Args:
        path: the checkpoint file or the exported folder.
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
        precision: ``auto`` (bf16 where the hardware has it natively), ``fp32`` or ``bf16``; as the CLI's
            ``--precision``. Give ``fp32`` for results equal to the last digit across machines.

    Raises:
        CheckpointError: not a genomix checkpoint or model folder (one line saying why).
        ConfigError: an unknown device or precision.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"precision should be one of {', '.join(PRECISIONS)}, got {precision!r}")
    device = resolve_device(device, option="device")
    module, info = load_model(path, device=device)
    return Model(module, info, path=path, device=device, precision=precision)


class Model:
    """A loaded genomix model and how it runs (built by :func:`load`).

    Attributes:
        module: the ``torch.nn.Module`` (eval mode), for direct use.
        info: what the checkpoint records: ``task``, ``alphabet``, ``vocab``, ``classes``,
            ``model_kwargs``, ``config``, ``target_scale``, ``label_kind``, ``window``.
        path: where it was loaded from.
        device, precision: where and how it runs.
    """

    def __init__(self, module: Any, info: dict[str, Any], *, path: str | os.PathLike, device: str,
                 precision: str) -> None:
        self.module = module
        self.info = info
        self.path = str(path)
        self.device = device
        self.precision = precision

    @property
    def task(self) -> str:
        """``classification``, ``regression`` or ``variant_effect``."""
        return self.info.get("task")

    @property
    def classes(self) -> list[str]:
        """The class names, in the order of the ``p_<class>`` columns (empty for regression)."""
        return list(self.info.get("classes") or [])

    def __repr__(self) -> str:
        return (f"genomix.Model({self.path!r}, task={self.task!r}, classes={self.classes}, device={self.device!r}, "
                f"precision={self.precision!r})")

    # -- sequences ----------------------------------------------------------------------------

    def predict(self, sequences: Sequences, *, rc: bool = False, max_length: int | None = None, min_length: int = 1,
                max_tokens: int = DEFAULT_MAX_TOKENS, on_invalid: str = "error", as_numpy: bool = False) -> Any:
        """Class probabilities of every sequence, as ``genomix annotate --out x.tsv`` computes them.

        Args:
            sequences: strings, SeqRecords, a mapping of id to sequence, or a FASTA path (module docstring).
            rc: average each window with its reverse complement (DNA models), as ``--rc``.
            max_length: longer sequences are cut into windows of this length and their probabilities
                length-weighted (default: the model's ``max_seq_len``; ``0``: never), as ``--max-length``.
            min_length: shorter sequences are skipped, as ``--min-length``.
            max_tokens: token budget of one batch, as ``--max-tokens``.
            on_invalid: ``error`` or ``skip`` a sequence with a character the alphabet lacks.
            as_numpy: return the ``(n, n_classes)`` float32 probabilities instead of a table.

        Returns:
            A DataFrame, one row per sequence kept, with annotate's columns ``id``, ``length``,
            ``class``, ``p_<class>``...; or the probabilities (rows in the same order).

        Raises:
            CheckpointError: not a classification model. AlphabetError, InputFormatError, ConfigError:
            as ``genomix annotate``.
        """
        records = self._predictions(sequences, window=None, stride=None, rc=rc, max_length=max_length,
                                    min_length=min_length, max_tokens=max_tokens, on_invalid=on_invalid)
        if as_numpy:
            return _stack([record.probabilities for record in records], len(self.classes))
        import pandas as pd

        names = [clean_field(name) for name in self.classes]
        columns = ["id", "length", "class", *(f"p_{name}" for name in names)]
        probabilities = _stack([record.probabilities for record in records], len(names))
        table = pd.DataFrame(probabilities, columns=columns[3:])
        table.insert(0, "class", [names[i] for i in probabilities.argmax(1)] if len(records) else [])
        table.insert(0, "length", np.array([record.length for record in records], dtype=np.int64))
        table.insert(0, "id", [record.id for record in records])
        return table

    def predict_windows(self, sequences: Sequences, *, window: int, stride: int | None = None, rc: bool = False,
                        min_length: int = 1, max_tokens: int = DEFAULT_MAX_TOKENS, on_invalid: str = "error",
                        as_numpy: bool = False) -> Any:
        """Class probabilities of every window, as ``genomix annotate --window W --stride S --bed x.bed``.

        Args:
            sequences: as :meth:`predict`.
            window: window length (bases); the last window of a sequence may be shorter, so every base
                is covered.
            stride: step between window starts (default ``window``; at most ``window``).
            rc, min_length, max_tokens, on_invalid, as_numpy: as :meth:`predict`.

        Returns:
            A DataFrame, one row per window, with the BED file's columns: ``chrom`` (the sequence id),
            ``chromStart``, ``chromEnd`` (0-based, half-open), ``name`` (the class), ``score``
            (1000 x its probability), ``strand`` (``.``), ``p_<class>``...; or the probabilities.
        """
        records = self._predictions(sequences, window=window, stride=stride, rc=rc, max_length=None,
                                    min_length=min_length, max_tokens=max_tokens, on_invalid=on_invalid)
        windows = [(record.id, w) for record in records for w in record.windows]
        probabilities = _stack([w.probabilities for _, w in windows], len(self.classes))
        if as_numpy:
            return probabilities
        import pandas as pd

        names = [clean_field(name) for name in self.classes]
        best = probabilities.argmax(1) if len(windows) else np.zeros(0, dtype=np.int64)
        best_probability = probabilities[np.arange(len(best)), best].astype(np.float64)  # as the BED writer rounds
        table = pd.DataFrame({
            BED_COLUMNS[0]: [record_id for record_id, _ in windows],
            BED_COLUMNS[1]: np.array([w.start for _, w in windows], dtype=np.int64),
            BED_COLUMNS[2]: np.array([w.end for _, w in windows], dtype=np.int64),
            BED_COLUMNS[3]: [names[i] for i in best],
            BED_COLUMNS[4]: np.clip(np.round(best_probability * 1000), 0, 1000).astype(np.int64),
            BED_COLUMNS[5]: ["."] * len(windows),
        })
        for k, name in enumerate(names):
            table[f"p_{name}"] = probabilities[:, k]
        return table

    def _predictions(self, sequences: Sequences, *, window: int | None, stride: int | None, rc: bool,
                     max_length: int | None, min_length: int, max_tokens: int, on_invalid: str
                     ) -> list[RecordPrediction]:
        _check_options(out="-", bed=None, window=window, stride=stride, min_length=min_length, max_length=max_length,
                       precision=self.precision, max_tokens=max_tokens, on_invalid=on_invalid)
        classifier_classes(self.info, path=self.path, rc=rc)
        summary = AnnotateSummary()
        with _records(sequences) as (records, name):
            chunks = stream_predictions(self.module, self.info, records, window=window, stride=stride,
                                        max_length=max_length, rc=rc, min_length=min_length, on_invalid=on_invalid,
                                        device=self.device, precision=self.precision, max_tokens=max_tokens,
                                        summary=summary, source_name=name, model_path=self.path)
            predictions = [record for chunk in chunks for record in chunk]
            if summary.records_read == 0 and isinstance(records, FastaStream):
                raise InputFormatError(f"{name}: no FASTA records; expected at least one '>' header line followed "
                                       f"by a sequence")
        return predictions

    # -- variants -----------------------------------------------------------------------------

    def score_variants(self, vcf: str | os.PathLike, *, reference: str | os.PathLike,
                       out: str | os.PathLike | None = None, window: int | None = None, rc: bool = False,
                       batch_tokens: int = 1 << 18,
                       contig_aliases: Mapping[str, str] | None = None, element_field: str | None = None,
                       region: str | None = None) -> Any:
        """Score every ALT of a VCF with a ref/alt model, as ``genomix score-variants``.

        Args:
            vcf: the input VCF (plain, bgzip or gzip) or BCF.
            reference: the reference FASTA.
            out: also write the scored VCF there (``.vcf``, ``.vcf.gz``, ``.vcf.bgz``), as the CLI does.
            window: the window in bases (default: the checkpoint's).
            rc: average each score with the reverse strand's.
            batch_tokens: most window tokens per model call.
            contig_aliases: ``{VCF contig: reference record}``, as ``--contig-alias``.
            element_field, region: as ``--element-field`` and ``--region``.

        Returns:
            A DataFrame, one row per (record, ALT) in input order: ``chrom``, ``pos`` (1-based), ``id``,
            ``ref``, ``alt``, ``filter`` (``GMX_REF_MISMATCH`` / ``GMX_OUTSIDE`` when not scored, else
            empty), ``GMX_SCORE`` and ``GMX_DIFF`` (NaN where the VCF gets ``.``).

        Raises:
            CheckpointError: not a variant-effect model. ConfigError, InputFormatError: as the CLI.
        """
        from genomix.inference.variants import ROW_COLUMNS, score_table, score_vcf, variant_settings

        window, label_kind = variant_settings(self.info, path=self.path, window=window)
        options = dict(reference=reference, vcf=vcf, window=window, label_kind=label_kind,
                       target_scale=self.info.get("target_scale"), rc=rc, batch_tokens=batch_tokens,
                       contig_aliases=dict(contig_aliases or {}), element_field=element_field, region=region)
        if out is not None:
            rows: list[dict] = []
            score_vcf(self.module, out=out, classes=self.info.get("classes"), rows=rows, **options)
        else:
            rows, _ = score_table(self.module, **options)
        import pandas as pd

        table = pd.DataFrame(rows, columns=list(ROW_COLUMNS))
        for column in ROW_COLUMNS[-2:]:
            table[column] = table[column].astype("float64")
        return table


def _stack(rows: list[np.ndarray], n_classes: int) -> np.ndarray:
    return np.stack(rows).astype(np.float32) if rows else np.zeros((0, n_classes), dtype=np.float32)


@contextlib.contextmanager
def _records(sequences: Sequences) -> Iterator[tuple[Iterable[FastaRecord], str]]:
    """``(records, name)`` for any accepted input (see the module docstring); a FASTA file is closed after."""
    if isinstance(sequences, os.PathLike) or (isinstance(sequences, str) and _names_a_file(sequences)):
        with FastaStream(sequences) as stream:
            yield stream, stream.name
        return
    if isinstance(sequences, (str, bytes)) or _is_record(sequences):
        sequences = [sequences]
    if isinstance(sequences, Mapping):
        yield (FastaRecord(str(key), str(key), _text(value, str(key))) for key, value in sequences.items()), "sequences"
        return
    if not isinstance(sequences, Iterable):
        raise InputFormatError(f"sequences should be strings, SeqRecords, a mapping of id to sequence or a FASTA "
                               f"path; got {type(sequences).__name__}")
    yield (_as_record(item, k) for k, item in enumerate(sequences)), "sequences"


def _names_a_file(text: str) -> bool:
    if os.path.isfile(text):
        return True
    if os.sep in text or text.endswith((".fa", ".fasta", ".fna", ".gz", ".bgz", ".fa.gz", ".txt")):
        raise InputFormatError(f"{text}: no such FASTA file (a string is read as a file when it names one, "
                               f"else as one sequence)")
    return False


def _is_record(item: Any) -> bool:
    return isinstance(item, FastaRecord) or (hasattr(item, "seq") and hasattr(item, "id"))


def _as_record(item: Any, index: int) -> FastaRecord:
    if isinstance(item, FastaRecord):
        return item
    if hasattr(item, "seq") and hasattr(item, "id"):  # a Bio.SeqRecord
        return FastaRecord(str(item.id), str(getattr(item, "description", item.id)), _text(item.seq, str(item.id)))
    if isinstance(item, (str, bytes)):
        return FastaRecord(f"seq{index}", f"seq{index}", _text(item, f"seq{index}"))
    raise InputFormatError(f"sequence {index}: expected a string, a SeqRecord or a FastaRecord, got "
                           f"{type(item).__name__}")


def _text(value: Any, name: str) -> str:
    if isinstance(value, bytes):
        return value.decode("ascii", errors="replace")
    if isinstance(value, str):
        return value
    try:
        return str(value)  # a Bio.Seq
    except Exception:  # noqa: BLE001 (an undefined Bio.Seq raises its own error)
        raise InputFormatError(f"sequence {name}: its letters cannot be read ({type(value).__name__})") from None


__all__ = ["load", "Model"]
