"""Turn medspaCy docs into `Finding` rows: one per mention, with assertion, laterality, severity, location.

Two kinds of target come out of the lexicon:

* observations ("pleural effusion", "atelectasis"): one Finding each, whose assertion comes from the
  ConText modifiers around it (negated -> negative, possible -> uncertain, else positive);
* organ statements ("heart size", "the lungs", "no acute cardiopulmonary abnormality"): they yield
  Findings only when qualified. "The lungs are clear" or "heart size is normal" state the absence of
  the observations the statement's `normal_implies` lists (negative rows); "the heart is enlarged"
  asserts its `abnormal_implies` (cardiomegaly). An unqualified organ mention yields nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

from spacy.tokens import Doc, Span

from radprm.schemas.records import Finding, Report
from radprm.validators.findings.lexicon import SECTION_CATEGORIES, RuleSet, load_rules
from radprm.validators.findings.nlp import SENTENCE_COMPONENT, build_nlp

_BOUNDARY_PUNCT = {",", ";", ":", ".", "(", ")", "?", "!"}
_STOP_WORDS = {"with", "without", "but", "however", "and", "or", "versus", "vs", "than", "which", "that", "no", "not", "to", "suggest", "suggesting", "represent", "representing", "likely", "consistent", "compatible", "from", "since", "there", "is", "are", "was", "were", "has", "have"}
# Words a statement region may pass through ("the heart is mildly enlarged").
_STATEMENT_PASS = {"is", "are", "was", "were", "has", "have", "appears", "appear", "remains", "remain", "again", "now", "be", "been", "and"}
# Between two findings of one sentence: the second restates the first ("..., compatible with X").
_RESTATEMENT = re.compile(
    r"(?:^|,)\s*(?:(?:which|that)\s+(?:is|are|may|might|could|likely)?\s*)?(?:most\s+)?(?:likely\s+|probably\s+|possibly\s+)?"
    r"(?:(?:compatible|consistent)\s+with|suggestive\s+of|suggesting|concerning\s+for|representing|represents?|reflecting|reflects?|due\s+to|from|likely|probably|possibly)"
    r"(?:\s+(?:a|an|the|early|developing|some|focal|mild|small|subsegmental))*\s*$",
    re.I,
)
# A grade word ending its clause ("..., mild." / "is small,") and a prepositional place phrase.
_PREDICATE_GRADE = re.compile(r"([\w-]+(?:\s+(?:limits?\s+of\s+normal|normal))?)(?=\s*(?:[,.;:]|$))", re.I)
_PLACE_PHRASE = re.compile(r"\b(?:in|at|on|within|along|involving|of)\s+((?:[\w-]+\s+){0,6}?[\w-]+)(?=\s*(?:[,.;:]|$|\s+(?:and|with|which|that|is|are|was|were)\b))", re.I)
_PRE_LIMIT = 6
_POST_LIMIT = 8


def _words_regex(words: Iterable[str]) -> re.Pattern[str]:
    alts = sorted({w.lower() for w in words}, key=len, reverse=True)
    return re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(a).replace(r"\ ", r"\s+") for a in alts) + r")(?![\w-])", re.I)


class _Vocab:
    """Compiled laterality / severity / location matchers from the modifiers rule file."""

    def __init__(self, modifiers: dict) -> None:
        self.laterality_words = {
            re.sub(r"\s+", " ", w.lower()): value for value, words in modifiers["laterality"].items() for w in words
        }
        self.laterality = _words_regex(self.laterality_words)
        self.severity_words: dict[str, str] = {}
        for value, words in modifiers["severity"].items():
            for word in words:
                self.severity_words[re.sub(r"\s+", " ", word.lower())] = value
        self.severity = _words_regex(self.severity_words)
        loc = modifiers["location"]
        side = "|".join(sorted((re.escape(s) for s in loc.get("sides", [])), key=len, reverse=True))
        qual = "|".join(sorted((re.escape(s) for s in loc.get("qualifiers", [])), key=len, reverse=True))
        head = "|".join(sorted((re.escape(s).replace(r"\ ", r"\s+") for s in loc["heads"]), key=len, reverse=True))
        pieces = []
        if side:
            pieces.append(rf"(?:(?:{side})\s+)?")
        if qual:
            pieces.append(rf"(?:(?:{qual})\s+)*")
        self.location = re.compile(r"(?<![\w-])" + "".join(pieces) + rf"(?:{head})(?:\s+(?:{head}))*(?![\w-])", re.I)

    def find_laterality(self, text: str, last: bool) -> str | None:
        hits = [self.laterality_words[re.sub(r"\s+", " ", m.group(0).lower())] for m in self.laterality.finditer(text)]
        if not hits:
            return None
        if "bilateral" in hits or {"left", "right"} <= set(hits):
            # "left and right", "bibasilar", or both sides named in the same clause
            return "bilateral"
        return hits[-1] if last else hits[0]

    def find_severity(self, text: str, last: bool) -> str | None:
        hits = list(self.severity.finditer(text))
        if not hits:
            return None
        word = (hits[-1] if last else hits[0]).group(0).lower()
        return self.severity_words.get(re.sub(r"\s+", " ", word))


def _clause_bounds(doc: Doc, span: Span, sent: Span, target_tokens: set[int], statement: bool) -> tuple[int, int]:
    """Token range [lo, hi) around `span` that belongs to it: stop at punctuation, other targets, stop words."""
    lo = span.start
    i = span.start - 1
    while i >= sent.start and span.start - i <= _PRE_LIMIT:
        tok = doc[i]
        low = tok.lower_
        if i in target_tokens or tok.text in _BOUNDARY_PUNCT or tok.is_space:
            break
        if low in _STOP_WORDS:
            # keep "left and right" together
            if low in ("and", "or") and i - 1 >= sent.start and doc[i - 1].lower_ in ("left", "right"):
                i -= 1
                continue
            break
        lo = i
        i -= 1
    hi = span.end
    i = span.end
    while i < sent.end and i - span.end < _POST_LIMIT:
        tok = doc[i]
        low = tok.lower_
        if i in target_tokens or tok.text in _BOUNDARY_PUNCT or tok.is_space:
            break
        if low in _STOP_WORDS and not (statement and low in _STATEMENT_PASS):
            if low in ("is", "are", "was", "were", "has", "have") and not statement:
                # "effusion is small", "opacity is in the right base": keep the predicate
                i += 1
                hi = i
                continue
            break
        i += 1
        hi = i
    return lo, hi


class FindingsExtractor:
    """Extract findings from report text with the medspaCy pipeline built from the rule files.

    Building the pipeline takes about a second; reuse one extractor for many texts.

    Args:
        rules: a loaded RuleSet; None loads the packaged rule files.
        rules_dir: a folder of replacement rule files (ignored when `rules` is given).
    """

    def __init__(self, rules: RuleSet | None = None, *, rules_dir: str | Path | None = None) -> None:
        self.rules = rules if rules is not None else load_rules(rules_dir)
        self.nlp = build_nlp(self.rules)
        self._vocab = _Vocab(self.rules.modifiers)
        self._statements = self.rules.statements

    @property
    def rules_version(self) -> str:
        """Version + sha256 prefix of the rule set; recorded on every output row."""
        return self.rules.rules_version

    # -- public API ---------------------------------------------------------------------------
    def extract_text(self, text: str, report_id: str = "", section: str | None = None) -> list[Finding]:
        """Extract findings from any text, e.g. one LLM reasoning step.

        Args:
            text: the text to analyse; offsets in the result index into it.
            report_id: copied onto every Finding.
            section: force this section on every Finding (default: from section headers, else 'other').

        Returns:
            Findings in text order.
        """
        return self.doc_findings(self.nlp(text or ""), report_id=report_id, section=section)

    def extract_report(self, report: Report) -> list[Finding]:
        """Extract findings from `report.text`; offsets index into it, sections come from its headers."""
        return self.doc_findings(self.nlp(report.text or ""), report_id=report.report_id)

    def extract_many(self, reports: Iterable[Report], batch_size: int = 64) -> Iterator[tuple[Report, list[Finding]]]:
        """Stream (report, findings) pairs through `nlp.pipe`; memory stays flat for any input length.

        Args:
            reports: any iterable of Report records (consumed lazily).
            batch_size: texts per spaCy batch.

        Yields:
            Each report with its findings, in input order.
        """
        pairs = ((report.text or "", report) for report in reports)
        for doc, report in self.nlp.pipe(pairs, as_tuples=True, batch_size=batch_size):
            yield report, self.doc_findings(doc, report_id=report.report_id)

    def assertion_of(self, text: str, start: int, end: int) -> str:
        """ConText assertion of an arbitrary phrase, e.g. one that is not in the lexicon.

        Args:
            text: the sentence or passage.
            start: char offset where the phrase starts.
            end: char offset where it ends.

        Returns:
            "positive", "negative" or "uncertain".

        Raises:
            ValueError: the offsets do not fall on token boundaries of `text`.
        """
        doc = self.nlp.make_doc(text)
        doc = self.nlp.get_pipe(SENTENCE_COMPONENT)(doc)
        span = doc.char_span(start, end, label="target", alignment_mode="expand")
        if span is None:
            raise ValueError(f"no tokens at {start}:{end} in {text!r}")
        doc.ents = [span]
        doc = self.nlp.get_pipe("medspacy_context")(doc)
        return _assertion(doc.ents[0])

    # -- Doc -> rows ------------------------------------------------------------------------------
    def doc_findings(self, doc: Doc, *, report_id: str = "", section: str | None = None) -> list[Finding]:
        """Flatten one processed Doc into Finding rows (see the module docstring for the rules)."""
        findings: list[Finding] = []
        text = doc.text  # Doc.text joins every token: build it once per doc
        target_tokens = {i for ent in doc.ents for i in range(ent.start, ent.end)}
        ents = list(doc.ents)
        sents = [ent.sent for ent in ents]  # Span.sent searches the doc: look it up once per entity
        ents_per_sent: dict[int, int] = {}
        for sent in sents:
            ents_per_sent[sent.start] = ents_per_sent.get(sent.start, 0) + 1
        previous: dict[int, Span] = {}  # last entity seen in each sentence
        # per-doc state read by _finding (one extractor serves one doc at a time)
        self._sentence_scope: dict[int, Span] = {}
        self._ent_findings: dict[int, Finding] = {}
        for ent, sent in zip(ents, sents):
            prior = previous.get(sent.start)
            previous[sent.start] = ent
            if ents_per_sent[sent.start] == 1:
                self._sentence_scope[ent.start] = sent
            elif prior is not None and _RESTATEMENT.search(doc[prior.end : ent.start].text):
                # "opacity in the left lower lobe, compatible with infiltrate": same finding
                self._sentence_scope[ent.start] = prior
        for ent, sent in zip(ents, sents):
            statement = self._statements.get(ent.label_)
            lo, hi = _clause_bounds(doc, ent, sent, target_tokens, statement is not None)
            sec = section or _section_of(ent)
            if statement is None:
                findings.append(self._finding(doc, text, ent, ent.label_, _assertion(ent), lo, hi, sent, sec, report_id))
                continue
            state = _closest_state(ent, doc)
            if state is not None and state.category in ("ENLARGED", "BORDERLINE", "UPPER_NORMAL") and statement.abnormal_implies:
                span = _join(doc, ent, state)
                # "upper limits of normal" is normal by definition yet hints at enlargement: uncertain
                assertion = "uncertain" if state.category == "UPPER_NORMAL" else _assertion(ent)
                if state.modifier_span[0] > 0 and doc[state.modifier_span[0] - 1].lower_ in _STATE_NEGATORS:
                    # "Heart size: no enlargement" (the "no" follows the organ, so ConText misses it)
                    assertion = "negative"
                severity = "borderline" if state.category in ("BORDERLINE", "UPPER_NORMAL") else None
                for obs in statement.abnormal_implies:
                    findings.append(self._finding(doc, text, span, obs, assertion, min(lo, span.start), max(hi, span.end), sent, sec, report_id, severity=severity, ent=ent))
            elif (state is not None and state.category == "NORMAL") or (statement.negation_means_normal and ent._.is_negated):
                span = _join(doc, ent, state) if state is not None else ent
                for obs in statement.normal_implies:
                    findings.append(self._finding(doc, text, span, obs, "negative", lo, hi, sent, sec, report_id, ent=ent, qualifiers=False))
        findings.sort(key=lambda f: (f.start, f.end, f.observation))
        return findings

    def _finding(
        self,
        doc: Doc,
        text: str,
        span: Span,
        observation: str,
        assertion: str,
        lo: int,
        hi: int,
        sent: Span,
        section: str,
        report_id: str,
        *,
        severity: str | None = None,
        ent: Span | None = None,
        qualifiers: bool = True,
    ) -> Finding:
        ent = ent if ent is not None else span
        pre = doc[lo : span.start].text
        post = doc[span.end : hi].text
        mention = span.text
        laterality = location = None
        if qualifiers:
            v = self._vocab
            laterality = v.find_laterality(pre, last=True) or v.find_laterality(mention, last=True) or v.find_laterality(post, last=False)
            if severity is None:
                severity = v.find_severity(pre, last=True) or v.find_severity(mention, last=True) or v.find_severity(post, last=False)
            location = _location(v, doc[lo:hi].text)
            scope = self._sentence_scope.get(ent.start)
            if scope is not None and scope.start != ent.start:
                # a restatement ("..., compatible with infiltrate") is on the restated finding's side;
                # its place is left alone: an impression's vaguer place ("right lobe") would stand in
                # for the findings section's precise one
                prior_f = self._ent_findings.get(scope.start)
                if prior_f is not None and not laterality and prior_f.laterality != "none":
                    laterality = prior_f.laterality
            elif scope is not None:
                # the only finding of its sentence owns the sentence's side, a grade said as a
                # predicate ("..., mild.") and a place introduced by a preposition ("in the rib")
                rest = doc[scope.start : span.start].text + " , " + doc[span.end : scope.end].text
                laterality = laterality or v.find_laterality(rest, last=False)
                if severity is None:
                    severity = v.find_severity(" ".join(_PREDICATE_GRADE.findall(rest)), last=False)
                location = location or _location(v, " , ".join(m.group(1) for m in _PLACE_PHRASE.finditer(rest)))
        s_start, s_end = _strip(text, sent.start_char, sent.end_char)
        finding = Finding(
            report_id=report_id,
            observation=observation,
            mention=mention,
            assertion=assertion,
            historical=bool(ent._.is_historical),
            hypothetical=bool(ent._.is_hypothetical),
            laterality=laterality or "none",
            severity=severity,
            location=location,
            section=section,
            sentence=text[s_start:s_end],
            start=span.start_char,
            end=span.end_char,
            sentence_start=s_start,
            sentence_end=s_end,
        )
        self._ent_findings[ent.start] = finding
        return finding


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _location(vocab: _Vocab, text: str) -> str | None:
    hits = list(vocab.location.finditer(text))
    if not hits:
        return None
    best = max(hits, key=lambda m: len(m.group(0)))
    return re.sub(r"\s+", " ", best.group(0))


def _section_of(ent: Span) -> str:
    category = ent[0]._.section_category
    return category if category in SECTION_CATEGORIES else "other"


def _distance(ent: Span, modifier) -> int:
    m_start, m_end = modifier.modifier_span
    if m_end <= ent.start:
        return ent.start - m_end
    return max(0, m_start - ent.end)


def _closest(ent: Span, categories: tuple[str, ...]):
    mods = [m for m in ent._.modifiers if m.category in categories]
    return min(mods, key=lambda m: _distance(ent, m)) if mods else None


_STATES = ("NORMAL", "ENLARGED", "BORDERLINE", "UPPER_NORMAL")
_STATE_NEGATORS = {"no", "not", "without"}


def _closest_state(ent: Span, doc: Doc):
    """The organ-state modifier of a statement, preferring one that is not closer to another statement.

    In "stable mild enlargement of the heart and normal lung vascularity" the "normal" belongs to
    the lungs, not to the heart, although medspaCy lets it modify both.
    """
    states = [m for m in ent._.modifiers if m.category in _STATES]
    if len(states) < 2:
        return states[0] if states else None
    own = [
        m for m in states
        if not any(other is not ent and m in other._.modifiers and _distance(other, m) < _distance(ent, m) for other in doc.ents)
    ]
    # a state nearer to another organ still counts when it is the only one ("chest show normal
    # size ... of the cardiac silhouette")
    mods = own or states
    return min(mods, key=lambda m: _distance(ent, m)) if mods else None


def _assertion(ent: Span) -> str:
    """negative / uncertain / positive; when both cues apply, the nearer one wins ("no definite ...").

    An alternative ("atelectasis or scarring") makes a mention uncertain unless it is negated: in
    "no effusion or pneumothorax" the "or" joins negated items.
    """
    if not ent._.is_negated and not ent._.is_uncertain:
        return "uncertain" if any(m.category == "ALTERNATIVE" for m in ent._.modifiers) else "positive"
    if ent._.is_negated and ent._.is_uncertain:
        if _negation_covers_hedge(ent):
            return "negative"
        mod = _closest(ent, ("NEGATED_EXISTENCE", "POSSIBLE_EXISTENCE"))
        return "negative" if mod is not None and mod.category == "NEGATED_EXISTENCE" else "uncertain"
    if ent._.is_negated:
        return "negative"
    if ent._.is_uncertain:
        return "uncertain"
    return "positive"


def _negation_covers_hedge(ent: Span) -> bool:
    """True when a hedge adjective sits inside a negation's scope rather than competing with it.

    Hedges whose rule carries `metadata.yields_to_negation` ("suspicious") describe the noun they
    precede; a negation before them ("No focal consolidation, suspicious opacity or effusion") or a
    negated predicate after the noun ("Suspicious nodules are absent") denies the whole phrase.
    """
    hedges = [m for m in ent._.modifiers if m.category == "POSSIBLE_EXISTENCE" and m.modifier_span[1] <= ent.start]
    if not hedges or not all((m.rule.metadata or {}).get("yields_to_negation") for m in hedges):
        return False
    first_hedge = min(m.modifier_span[0] for m in hedges)
    for neg in ent._.modifiers:
        if neg.category != "NEGATED_EXISTENCE":
            continue
        if neg.modifier_span[1] <= first_hedge or neg.modifier_span[0] >= ent.end:
            return True
    return False


def _join(doc: Doc, ent: Span, modifier) -> Span:
    """The span from a statement to its qualifier ('heart is mildly enlarged'), within the sentence."""
    m_start, m_end = modifier.modifier_span
    return doc[min(ent.start, m_start) : max(ent.end, m_end)]


@lru_cache(maxsize=1)
def default_extractor() -> FindingsExtractor:
    """The shared extractor built from the packaged rules (built on first use)."""
    return FindingsExtractor()


def extract_findings(text_or_report: str | Report, *, report_id: str = "", section: str | None = None) -> list[Finding]:
    """Extract findings from a text or a Report with the cached default extractor.

    Args:
        text_or_report: plain text (e.g. an LLM step) or a Report (uses `report.text`).
        report_id: for plain text, copied onto every Finding.
        section: for plain text, force this section on every Finding.

    Returns:
        Findings in text order.
    """
    ex = default_extractor()
    if isinstance(text_or_report, Report):
        return ex.extract_report(text_or_report)
    return ex.extract_text(text_or_report, report_id=report_id, section=section)
