"""Chain styles: how a chain is written, and telling when a step cites the report.

* ``image`` (default): the model gets the report as hidden ground truth and writes as a radiologist
  reading the film ("The frontal view shows blunting of the left costophrenic angle", "No pneumothorax
  is seen"). Vision-language trainers want this: their model never sees a report.
* ``report``: the model reasons from the report and may cite it ("The report states ..."), for
  text-only reasoners (radprm's behaviour before styles).

A prompt file declares its style (`style:` key; files without one are ``report``, as v1 was), and a
chain uses the latest version of each prompt written for its style. The validator judges both styles
the same way (an image-style "No pneumothorax is seen" is a claim against the report like any other).

`report_mentions(text)` names the phrases of `report_mentions.json` (versioned, loaded with
`radprm.rules`) a step uses to cite the report; QA counts them per style and image-style exports leave
such chains out, so an exported image-style chain never cites a report the trainee will not see.

Mining checks image-style chains with the same lexicon (`radprm mine --cites-report`, `CITES_REPORT_POLICIES`):
a chain whose steps cite the report is asked once more (new seed and cache key, the prompt's `reask`
reminder) and, if it still cites it, quarantined as `cites_report` (re-drivable), so it never reaches the
shards; `keep` writes such chains as before and counts them. Report-style chains are never checked.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Any

from pydantic import Field

from radprm.errors import InputError
from radprm.rules import RuleModel, load_rule_file

STYLES = ("image", "report")
DEFAULT_STYLE = "image"
MENTIONS_FILE = "report_mentions.json"
CITES_REPORT = "cites_report"
"""Reason code of an image-style chain whose steps cite the report (mining and export quarantine)."""
CITES_REPORT_POLICIES = ("quarantine", "keep")
"""`radprm mine --cites-report`: quarantine (re-ask once, then quarantine `cites_report`) or keep (write it)."""


def check_style(style: str) -> str:
    """Return `style` when known.

    Raises:
        InputError: an unknown style, naming the option and the choices.
    """
    if style not in STYLES:
        raise InputError(f"unknown style {style!r}", field="style", hint=f"choose from {', '.join(STYLES)}")
    return style


class MentionPattern(RuleModel):
    """One way of citing the report: a name (reported in QA) and a regular expression."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    regex: str


class MentionRules(RuleModel):
    """The report-mention lexicon file."""

    version: str
    description: str
    patterns: list[MentionPattern]
    sha256: str = ""


class ReportMentions:
    """Compiled report-mention patterns.

    Args:
        source: a lexicon file (default: the packaged `miners/report_mentions.json`).

    Raises:
        RuleFileError: malformed file or a regex that does not compile (naming the pattern).
    """

    def __init__(self, source: Any = None) -> None:
        from radprm.errors import RuleFileError

        src = source if source is not None else resources.files("radprm.miners") / MENTIONS_FILE
        self.rules = load_rule_file(src, MentionRules)
        self.version = self.rules.version
        compiled = []
        for k, p in enumerate(self.rules.patterns):
            try:
                compiled.append((p.name, re.compile(p.regex, re.I)))
            except re.error as exc:
                raise RuleFileError(f"regex does not compile: {exc}", path=str(src),
                                    field=f"patterns.{k}.regex") from None
        self._patterns = compiled

    def find(self, text: str) -> list[str]:
        """Names of the patterns that match `text` (empty when it does not cite the report)."""
        return [name for name, rx in self._patterns if rx.search(text)]

    def count_steps(self, steps: list[str]) -> int:
        """Steps of a chain that cite the report."""
        return sum(1 for s in steps if self.find(s))

    def citing_steps(self, steps: list[str]) -> list[tuple[int, list[str]]]:
        """(index, pattern names) of each step that cites the report, in order (empty when none does)."""
        return [(i, found) for i, s in enumerate(steps) if (found := self.find(s))]


@lru_cache(maxsize=1)
def default_mentions() -> ReportMentions:
    """The packaged lexicon, loaded once."""
    return ReportMentions()


def report_mentions(text: str) -> list[str]:
    """Names of the report-citing phrases in `text`, from the packaged lexicon."""
    return default_mentions().find(text)
