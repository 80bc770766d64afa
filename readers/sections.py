"""FINDINGS / IMPRESSION splitting of free report text, and the canonical `Report.text`.

`canonical_text(findings, impression)` is the one definition of `Report.text`; the extractor's char
offsets refer to it, so every stage that needs the text calls this function rather than formatting it.

`split_sections(text)` runs medspaCy's sectionizer (on a blank English tokenizer, nothing else) with the
header rules in `section_rules.json` ("FINDINGS:", "Impression:", "CONCLUSION:", a bare "FINDINGS" line,
"INDICATION:", "COMPARISON:", ...). Rules for splitting:

- Text with no recognised header is all findings.
- Text before the first header is findings only when the report has no FINDINGS section of its own
  (it is usually an exam title such as "CHEST PA AND LATERAL" otherwise, and is dropped).
- Repeated sections of one kind are joined with a blank line; HISTORY goes to `indication` when the
  report has no INDICATION section.
- TECHNIQUE / EXAM sections are not part of any Report field.

The sectionizer is only for free text: IU rows already come split into columns and never reach it.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

RULES_FILE = "section_rules.json"
_FIELDS = ("findings", "impression", "indication", "comparison")


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
    """The Report fields found in one free-text report (None when a section is absent or blank)."""

    findings: str | None = None
    impression: str | None = None
    indication: str | None = None
    comparison: str | None = None
    had_headers: bool = False

    def as_dict(self) -> dict[str, str | None]:
        """The four Report fields as a dict."""
        return {name: getattr(self, name) for name in _FIELDS}


def rules_version() -> str:
    """The `version` of the packaged section rule file (recorded by callers for provenance)."""
    return str(_load_rules()["version"])


@lru_cache(maxsize=1)
def _load_rules() -> dict[str, Any]:
    data = json.loads(resources.files("radprm.readers").joinpath(RULES_FILE).read_text(encoding="utf-8"))
    allowed = {"literal", "category", "pattern"}
    for index, rule in enumerate(data["section_rules"]):
        unknown = set(rule) - allowed
        if unknown:
            from radprm.errors import RuleFileError

            raise RuleFileError(
                f"rule {index} has unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}", path=RULES_FILE
            )
    return data


@lru_cache(maxsize=1)
def _sectionizer_nlp():  # noqa: ANN202 - spaCy Language, imported lazily (spaCy start-up is slow)
    import spacy
    from medspacy.section_detection import Sectionizer  # noqa: F401 - registers the factory
    from medspacy.section_detection.section_rule import SectionRule

    nlp = spacy.blank("en")
    sectionizer = nlp.add_pipe("medspacy_sectionizer", config={"rules": None, "span_attrs": None})
    sectionizer.add([SectionRule(**rule) for rule in _load_rules()["section_rules"]])
    return nlp


@lru_cache(maxsize=1)
def _any_header() -> re.Pattern[str]:
    """All header rules as one regex, to skip spaCy for texts that have no header at all."""
    scoped = []
    for rule in _load_rules()["section_rules"]:
        flags = re.match(r"\(\?([aiLmsux]+)\)", rule["pattern"])
        body = rule["pattern"][flags.end() :] if flags else rule["pattern"]
        scoped.append(f"(?{flags.group(1)}:{body})" if flags else f"(?:{body})")
    return re.compile("|".join(scoped))


def _clean(text: str) -> str | None:
    text = text.strip()
    return text or None


def split_sections(text: str) -> Sections:
    """Split free report text into FINDINGS / IMPRESSION (and INDICATION / COMPARISON when present).

    Args:
        text: the whole report as written, with or without section headers.

    Returns:
        The sections found; text without any recognised header is returned as findings.
    """
    if not text or not text.strip():
        return Sections()
    if not _any_header().search(text):
        return Sections(findings=_clean(text), had_headers=False)
    with warnings.catch_warnings():
        # all our header rules are regex rules, so spaCy warns that the phrase matcher is empty (W036)
        warnings.filterwarnings("ignore", message=r".*W036")
        doc = _sectionizer_nlp()(text)
    sections = [s for s in doc._.sections if s.category is not None]
    if not sections:
        return Sections(findings=_clean(text), had_headers=False)
    found: dict[str, list[str]] = {}
    preamble = None
    for section in doc._.sections:
        title = doc[section.title_start : section.title_end]
        body = doc[section.body_start : section.body_end]
        if section.category is None:
            # medspaCy reports the text before the first header as a section without category
            preamble = _clean(body.text)
            continue
        start = title.end_char if section.title_end > section.title_start else body.start_char
        end = body.end_char if section.body_end > section.body_start else start
        chunk = _clean(text[start:end])
        if chunk:
            found.setdefault(section.category, []).append(chunk)
    if "findings" not in found and preamble:
        found["findings"] = [preamble]
    if "indication" not in found and "history" in found:
        found["indication"] = found["history"]
    joined = {name: "\n\n".join(found[name]) if name in found else None for name in _FIELDS}
    return Sections(**joined, had_headers=True)
