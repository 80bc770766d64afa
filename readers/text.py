"""Free-text reports: reading `.txt` files (one report each) and normalising report text.

Reading: one `.txt` file (id = file stem) or a directory walked recursively, files in path order.
MIMIC-CXR's tree `files/pNN/pNNNNNNNN/sNNNNNNNN.txt` is recognised by its names: a file named
`s<digits>.txt` gets `report_id` = the study id (the digits, as in MIMIC-CXR's label files) and, when
its folder is named `p<digits>`, `patient_id` = those digits; any other file keeps its stem as id.

Normalising (`normalize_report_text`): reports written for a screen are hard-wrapped at about 78
characters, indented, and end lines with `\\r\\n` when they were saved on Windows. Read as they are,
a wrap splits a sentence in two ("No large effusion or\\n pneumothorax." loses its negation). The
normaliser reads a line break inside a paragraph as a space and collapses runs of spaces, while a
blank line (kept as one blank line), a line starting with a section header or a list marker ("1.",
"2)", "-"), a separator line ("_____") and a line after a header-only line still end the paragraph.
Letters, digits and punctuation are never changed: MIMIC-CXR's `___` de-identification marks stay as
written and, like IU's `XXXX`, are neither findings nor numbers to the extractor and the step
validator. The result is the report's text of record (`Report.text` is built from it), so every
offset radprm reports indexes it; `normalize_with_offsets` also returns where each of its characters
came from in the text as written.
"""

from __future__ import annotations

import os
import re
from array import array
from collections.abc import Iterator
from pathlib import Path

from radprm.errors import InputError
from radprm.readers.columns import ColumnMap
from radprm.readers.rows import UTF8_HINT, RawRow
from radprm.readers.tabular import Source

TEXT_COLUMNS = ColumnMap(id="report_id", text="text")

_STUDY = re.compile(r"^s(\d+)$", re.I)
_PATIENT = re.compile(r"^p(\d+)$", re.I)
_LINE = re.compile(r"\r\n|\r|\n")
_SPACES = re.compile(r"[ \t\f\v\u00a0\u2000-\u200a\u202f\u3000]+")
_LIST_MARKER = re.compile(r"(?:\(?\d{1,2}[.)](?!\d)|[-*\u2022](?=\s))")
_SEPARATOR = re.compile(r"^[_=\-*~]{3,}$")


def normalize_report_text(text: str) -> str:
    """Join hard-wrapped lines and collapse spaces, keeping paragraphs, headers and list items.

    Idempotent; text without line breaks or repeated spaces comes back unchanged (as the same object).

    Args:
        text: a report, or one section of it, as written.

    Returns:
        The normalised text, stripped (see the module docstring for the rules).
    """
    if "\n" not in text and "\r" not in text and "  " not in text and "\t" not in text and "\u00a0" not in text:
        stripped = text.strip()
        return stripped if len(stripped) != len(text) else text
    return _normalize(text, None)


def normalize_with_offsets(text: str) -> tuple[str, array]:
    """`normalize_report_text`, plus the source offset of every character of the result.

    Args:
        text: a report as written.

    Returns:
        (normalised text, offsets) where `offsets[i]` is the index in `text` of the character the
        normalised text holds at `i` (a space or line break put in place of whitespace points at the
        first character of that whitespace).
    """
    offsets = array("q")
    return _normalize(text, offsets), offsets


def _normalize(text: str, offsets: array | None) -> str:
    from radprm.readers.sections import line_start_header

    header = line_start_header()
    # (content, start offset in text, whitespace-run offsets) per line; None for a blank line
    lines: list[tuple[str, int, list[tuple[int, int]]] | None] = []
    pos = 0
    for m in [*_LINE.finditer(text), None]:
        end = m.start() if m is not None else len(text)
        raw = text[pos:end]
        lead = len(raw) - len(raw.lstrip())
        body = raw.strip()
        if body:
            lines.append((body, pos + lead, []))
        else:
            lines.append(None)
        if m is None:
            break
        pos = m.end()
    out: list[str] = []
    previous_header_only = False
    pending_blank = False
    started = False
    out_last, last_end = "", 0
    for line in lines:
        if line is None:
            pending_blank = started
            continue
        body, start, _ = line
        if started:
            if pending_blank:
                sep = "\n\n"
            elif (
                previous_header_only
                or _SEPARATOR.match(body)
                or _LIST_MARKER.match(body)
                or header.match(body)
                or _SEPARATOR.match(out_last)
            ):
                sep = "\n"
            else:
                sep = " "
            out.append(sep)
            if offsets is not None:
                offsets.extend([last_end] * len(sep))
        # collapse runs of spaces inside the line
        piece_start = 0
        pieces: list[str] = []
        for ws in _SPACES.finditer(body):
            pieces.append(body[piece_start : ws.start()])
            pieces.append(" ")
            if offsets is not None:
                offsets.extend(range(start + piece_start, start + ws.start()))
                offsets.append(start + ws.start())
            piece_start = ws.end()
        pieces.append(body[piece_start:])
        if offsets is not None:
            offsets.extend(range(start + piece_start, start + len(body)))
        joined = "".join(pieces)
        out.append(joined)
        out_last = joined
        last_end = start + len(body)
        m = header.match(joined)
        previous_header_only = m is not None and (m.end() == len(joined) or not joined[m.end() :].strip())
        pending_blank = False
        started = True
    return "".join(out)


def study_ids(file: Path) -> tuple[str, str | None]:
    """(report_id, patient_id) for a report file: MIMIC-CXR `pNNN/sNNN.txt` names give the digits.

    Args:
        file: path of a `.txt` report.

    Returns:
        The study id digits (or the file stem) and the patient id digits (or None).
    """
    study = _STUDY.match(file.stem)
    if study is None:
        return file.stem, None
    patient = _PATIENT.match(file.parent.name)
    return study.group(1), patient.group(1) if patient else None


def walk_text_files(folder: Path) -> list[str]:
    """Relative paths of every `.txt` file under `folder` (recursively, hidden entries skipped), sorted.

    Names stay plain strings: a MIMIC-CXR listing of 227k files must stay small.
    """
    found: list[str] = []
    stack = [""]
    while stack:
        rel = stack.pop()
        with os.scandir(folder / rel if rel else folder) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                name = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_dir(follow_symlinks=False):
                    stack.append(name)
                elif entry.name.lower().endswith(".txt") and entry.is_file():
                    found.append(name)
    found.sort()
    return found


class TextSource(Source):
    """A `.txt` file or a directory tree of them; each file is one report, split by the sectionizer."""

    unit = "files"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.folder = path if path.is_dir() else path.parent
        if path.is_dir():
            self.files = walk_text_files(path)
            if not self.files:
                raise InputError(
                    "directory holds no .txt files (searched recursively)",
                    path=path,
                    hint="free-text input is one .txt file per report, e.g. MIMIC-CXR's "
                         "files/pNN/pNNNNNNNN/sNNNNNNNN.txt",
                )
        else:
            self.files = [path.name]
        self.columns = ["report_id", "patient_id", "text"]
        self.total = len(self.files)

    def rows(self, cmap: ColumnMap, batch_size: int = 1024) -> Iterator[RawRow]:
        """Yield one row per file: ids from its name, text = its content, source = that file, row 1."""
        for n, name in enumerate(self.files, 1):
            file = self.folder / name
            report_id, patient_id = study_ids(file)
            self.done = n
            try:
                data = file.read_bytes()
            except OSError as exc:
                yield RawRow(
                    1,
                    {"report_id": report_id},
                    reason="unreadable_file",
                    field="text",
                    detail=f"cannot read the file: {exc.strerror or exc}",
                    source_path=str(file),
                )
                continue
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError as exc:
                yield RawRow(
                    1,
                    {"report_id": report_id},
                    payload=data.decode("utf-8", "replace"),
                    reason="invalid_utf8",
                    field="text",
                    detail=f"byte offset {exc.start} ({data[exc.start : exc.start + 4]!r}); {UTF8_HINT}",
                    source_path=str(file),
                )
                continue
            values = {"report_id": report_id, "text": text}
            if patient_id is not None:
                values["patient_id"] = patient_id
            yield RawRow(1, values, payload=text, source_path=str(file))


def trace_report_text(raw: str) -> tuple[str, array]:
    """Rebuild the `Report.text` the reader makes from a free-text report, with source offsets.

    The reader keeps no offset map (Reports stay small); this recomputes it from the text as written,
    so any span radprm reports on a free-text report (mention, evidence, review highlight) can be
    shown in the original file.

    Args:
        raw: the report as written (a `.txt` file's content, or a `--text-col` value).

    Returns:
        (text, offsets): `text` equals `Report.text` of that report; `offsets[i]` is the index in
        `raw` of `text[i]`, or -1 for characters radprm wrote ("FINDINGS: ", "IMPRESSION: " and the
        line breaks between sections). A span `start:end` of `text` comes from
        `raw[offsets[start]:offsets[end - 1] + 1]` (same words; the source may wrap and indent them).
    """
    from radprm.readers.sections import canonical_text, split_sections

    norm, source = normalize_with_offsets(raw)
    sections = split_sections(norm)
    text = canonical_text(sections.findings, sections.impression)
    offsets = array("q")
    for name, header in (("findings", "FINDINGS: "), ("impression", "IMPRESSION: ")):
        if getattr(sections, name) is None:
            continue
        if offsets:
            offsets.append(-1)  # the line break between the two parts
        offsets.extend([-1] * len(header))
        for i, (start, end) in enumerate(sections.spans[name]):
            if i:
                offsets.extend([-1, -1])  # chunks of one kind are joined with a blank line
            offsets.extend(source[start:end])
    if len(offsets) != len(text):  # pragma: no cover - the two constructions must agree
        raise AssertionError(f"offset map of {len(offsets)} for a text of {len(text)} characters")
    return text, offsets
