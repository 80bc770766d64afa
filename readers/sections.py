"""FINDINGS / IMPRESSION splitting of free report text, and the canonical `Report.text`.

`canonical_text(findings, impression)` is the one definition of `Report.text`; the extractor's char
offsets refer to it, so every stage that needs the text calls this function rather than formatting it.

`split_sections(text)` runs medspaCy's sectionizer (on a blank English tokenizer, nothing else) with the
header rules of `validators/findings/rules/sections.json`, the one section rule file the findings
pipeline loads too ("FINDINGS:", "Impression:", "CONCLUSION:", a bare "FINDINGS" line, "INDICATION:",
"COMPARISON:", MIMIC-CXR's "FINAL REPORT" banner, "EXAMINATION:", "WET READ:", ...). Here a header may
stand anywhere in a line ("Findings: ... Impression: ..." on one line); the findings pipeline only
takes headers that start a line. Rules for splitting:

- FINDINGS and IMPRESSION sections run to the next header, over blank lines.
- Any other section (indication, history, comparison, technique, notification, ...) owns only its
  first paragraph, and a banner line without a colon ("FINAL REPORT") owns nothing: text after a
  blank line is "unheaded" report text, as is the text before the first header (MIMIC-CXR reports
  without a FINDINGS header write their findings there).
- Unheaded text is the findings when the report has no FINDINGS section of its own (otherwise it is
  usually an exam title such as "CHEST PA AND LATERAL" and is dropped).
- A report with neither a FINDINGS nor an IMPRESSION section (with or without other headers) is read
  whole as findings, flagged `Sections.no_report_sections` (the reader counts it as a warning).
- Repeated sections of one kind are joined with a blank line; HISTORY goes to `indication` when the
  report has no INDICATION section.
- TECHNIQUE / EXAM / NOTIFICATION / RECOMMENDATION / WET READ / ADDENDUM text is not part of any
  Report field.

Normalise the text first (`radprm.readers.text.normalize_report_text`): the reader does; the split
itself only reads the characters it is given, so every chunk is a slice of its input.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any

from pydantic import Field, field_validator

from radprm.rules import RuleModel, parse_rule_data, read_rule_data

#: The section rule file, shared with the findings pipeline (package-relative path).
RULES_FILE = "validators/findings/rules/sections.json"
CATEGORIES = ("findings", "impression", "indication", "comparison", "history", "other")
_FIELDS = ("findings", "impression", "indication", "comparison")
_MAIN = ("findings", "impression")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


def canonical_text(findings: str | None, impression: str | None) -> str:
    """Build the canonical report text that `Report.text` holds and finding offsets refer to.

    Args:
        findings: FINDINGS section text, or None/blank when absent.
        impression: IMPRESSION section text, or None/blank when absent.

    Returns:
        `"FINDINGS: {findings}\\nIMPRESSION: {impression}"`, omitting a missing part (no empty header);
        the empty string when both are missing.
    """
    parts = []
    if findings and findings.strip():
        parts.append(f"FINDINGS: {findings.strip()}")
    if impression and impression.strip():
        parts.append(f"IMPRESSION: {impression.strip()}")
    return "\n".join(parts)


@dataclass(frozen=True)
class Sections:
    """The Report fields found in one free-text report (None when a section is absent or blank).

    Attributes:
        had_headers: some recognised header was found.
        no_report_sections: the report has neither a FINDINGS nor an IMPRESSION section, so
            `findings` holds its unheaded text, or the whole text when there is none.
        spans: for each field, the (start, end) char ranges of the input its text was joined from
            (chunks joined with a blank line); used to trace Report offsets back to the source.
    """

    findings: str | None = None
    impression: str | None = None
    indication: str | None = None
    comparison: str | None = None
    had_headers: bool = False
    no_report_sections: bool = False
    spans: dict[str, tuple[tuple[int, int], ...]] = field(default_factory=dict, compare=False, repr=False)

    def as_dict(self) -> dict[str, str | None]:
        """The four Report fields as a dict."""
        return {name: getattr(self, name) for name in _FIELDS}


def rules_version() -> str:
    """The `version` of the section rule file (recorded by callers for provenance)."""
    return str(load_section_rules()["version"])


class SectionRuleSpec(RuleModel):
    """A header rule: the literal header, its section and an optional regex (a string here)."""

    literal: Annotated[str, Field(min_length=1)]
    category: str
    pattern: str | None = None

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in CATEGORIES:
            raise ValueError(f"unknown category {value!r}; allowed: {', '.join(CATEGORIES)}")
        return value


class SectionRulesFile(RuleModel):
    """The section rule file (`validators/findings/rules/sections.json`)."""

    version: Annotated[str, Field(min_length=1)] | int | float
    source: str | None = None
    section_rules: list[SectionRuleSpec]


@lru_cache(maxsize=1)
def load_section_rules() -> dict[str, Any]:
    """Read and check the section rule file shared with the findings pipeline (through `radprm.rules`).

    Returns:
        The parsed file as written: `version`, `source`, `section_rules` (literal, category, optional
        regex pattern).

    Raises:
        RuleFileError: unknown key, unknown category or a bad value, naming the file and the field path.
    """
    data, _ = read_rule_data(resources.files("radprm").joinpath(RULES_FILE))
    parse_rule_data(data, SectionRulesFile, path=RULES_FILE)
    return data


@lru_cache(maxsize=1)
def _sectionizer_nlp():  # noqa: ANN202 - spaCy Language, imported lazily (spaCy start-up is slow)
    import spacy
    from medspacy.section_detection import Sectionizer  # noqa: F401 - registers the factory
    from medspacy.section_detection.section_rule import SectionRule

    nlp = spacy.blank("en")
    sectionizer = nlp.add_pipe("medspacy_sectionizer", config={"rules": None, "span_attrs": None})
    sectionizer.add([SectionRule(**rule) for rule in load_section_rules()["section_rules"]])
    return nlp


def _rule_regex(rule: dict[str, Any]) -> str:
    """One rule as a scoped regex: its pattern, or its literal matched the way the phrase matcher does."""
    pattern = rule.get("pattern")
    if pattern is None:
        words = re.findall(r"\w+|[^\w\s]", rule["literal"])
        # the phrase matcher compares tokens ignoring case and the spaces between them
        return "(?i:" + r"(?<![\w])" + r"\s*".join(re.escape(w) for w in words) + ")"
    flags = re.match(r"\(\?([aiLmsux]+)\)", pattern)
    body = pattern[flags.end() :] if flags else pattern
    return f"(?{flags.group(1)}:{body})" if flags else f"(?:{body})"


@lru_cache(maxsize=1)
def _any_header() -> re.Pattern[str]:
    """All header rules as one regex, to skip spaCy for texts that have no header at all."""
    return re.compile("|".join(_rule_regex(rule) for rule in load_section_rules()["section_rules"]))


@lru_cache(maxsize=1)
def line_start_header() -> re.Pattern[str]:
    """A header at the start of a line (a capital first letter), or a line that is only a header.

    Used by the text normaliser: a line starting with a header is never a wrapped continuation.
    """
    return re.compile(r"(?=[A-Z])(?:" + _any_header().pattern + ")")


def _stripped(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if end > start else None


def split_sections(text: str) -> Sections:
    """Split free report text into FINDINGS / IMPRESSION (and INDICATION / COMPARISON when present).

    Args:
        text: the whole report (normalised by `normalize_report_text`, or as written).

    Returns:
        The sections found (see the module docstring for the rules). Text without FINDINGS and
        IMPRESSION sections is returned as findings with `no_report_sections` set.
    """
    if not text or not text.strip():
        return Sections()
    whole = _stripped(text, 0, len(text))
    if not _any_header().search(text):
        return _sections(text, {"findings": [whole]}, had_headers=False, no_report_sections=True)
    with warnings.catch_warnings():
        # spaCy warns when one of medspaCy's matchers holds no rule (W036)
        warnings.filterwarnings("ignore", message=r".*W036")
        doc = _sectionizer_nlp()(text)
    if not any(s.category is not None for s in doc._.sections):
        return _sections(text, {"findings": [whole]}, had_headers=False, no_report_sections=True)
    found: dict[str, list[tuple[int, int]]] = {}
    unheaded: list[tuple[int, int]] = []
    for section in doc._.sections:
        title = doc[section.title_start : section.title_end]
        body = doc[section.body_start : section.body_end]
        start = title.end_char if section.title_end > section.title_start else body.start_char
        end = body.end_char if section.body_end > section.body_start else start
        span = _stripped(text, start, end)
        if span is None:
            continue
        if section.category is None:
            # medspaCy reports the text before the first header as a section without category
            unheaded.append(span)
            continue
        if section.category not in _MAIN and ":" not in title.text:
            # a banner on a line of its own ("FINAL REPORT", "ADDENDUM") heads the report, not a section
            unheaded.append(span)
            continue
        if section.category not in _MAIN:
            # a side section (indication, comparison, technique, ...) owns its first paragraph only
            gap = _PARAGRAPH_BREAK.search(text, span[0], span[1])
            if gap is not None:
                rest = _stripped(text, gap.end(), span[1])
                if rest is not None:
                    unheaded.append(rest)
                span = _stripped(text, span[0], gap.start()) or span
        found.setdefault(section.category, []).append(span)
    no_sections = not any(name in found for name in _MAIN)
    if "findings" not in found and unheaded:
        found["findings"] = unheaded
    elif no_sections:
        found["findings"] = [whole]
    if "indication" not in found and "history" in found:
        found["indication"] = found["history"]
    return _sections(text, found, had_headers=True, no_report_sections=no_sections)


def _sections(
    text: str, found: dict[str, list[tuple[int, int]]], *, had_headers: bool, no_report_sections: bool
) -> Sections:
    joined = {name: "\n\n".join(text[s:e] for s, e in found[name]) if name in found else None for name in _FIELDS}
    spans = {name: tuple(found[name]) for name in _FIELDS if name in found}
    return Sections(**joined, had_headers=had_headers, no_report_sections=no_report_sections, spans=spans)
