"""Turn medspaCy docs into `Finding` rows: one per mention, with assertion, laterality, severity, location.

Two kinds of target come out of the lexicon:

* observations ("pleural effusion", "atelectasis"): one Finding each, whose assertion comes from the
  ConText modifiers around it (negated -> negative, possible -> uncertain, else positive);
* organ statements ("heart size", "the lungs", "no acute cardiopulmonary abnormality"): they yield
  Findings only when qualified. "The lungs are clear" or "heart size is normal" state the absence of
  the observations the statement's `normal_implies` lists (negative rows); "the heart is enlarged"
  asserts its `abnormal_implies` (cardiomegaly). An unqualified organ mention yields nothing.

Speed: everything above is decided inside one sentence (targets, ConText scopes, clauses, the
sentence-level side / grade / place), and report sentences repeat a lot ("The lungs are clear.").
So a text is tokenised and split once, each sentence is looked up in a cache keyed by its tokens,
and only unseen sentences go through the target matcher, ConText and the Doc -> row code, on a
one-sentence Doc. Sections are the only report-level attribute; they come from the sectionizer's
header matches on the whole text. The output is the same as running the full pipeline on the text
(`doc_findings(nlp(text))`), which is what the extractor falls back to when a rule could match
across a sentence boundary.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

from spacy.attrs import IDX, LOWER, ORTH, SPACY
from spacy.tokens import Doc, Span

from radprm.schemas.records import Finding, Report
from radprm.validators.findings.lexicon import SECTION_CATEGORIES, RuleSet, load_findings_rules
from radprm.validators.findings.nlp import SENTENCE_COMPONENT, AnchoredMatcher, _variants, build_nlp, ends_sentence

_BOUNDARY_PUNCT = {",", ";", ":", ".", "(", ")", "?", "!"}
_STOP_WORDS = {
    "with",
    "without",
    "but",
    "however",
    "and",
    "or",
    "versus",
    "vs",
    "than",
    "which",
    "that",
    "no",
    "not",
    "to",
    "suggest",
    "suggesting",
    "represent",
    "representing",
    "likely",
    "consistent",
    "compatible",
    "from",
    "since",
    "there",
    "is",
    "are",
    "was",
    "were",
    "has",
    "have",
}
# Words a statement region may pass through ("the heart is mildly enlarged").
_STATEMENT_PASS = {
    "is",
    "are",
    "was",
    "were",
    "has",
    "have",
    "appears",
    "appear",
    "remains",
    "remain",
    "again",
    "now",
    "be",
    "been",
    "and",
}
# Between two findings of one sentence: the second restates the first ("..., compatible with X").
_RESTATEMENT = re.compile(
    r"(?:^|,)\s*(?:(?:which|that)\s+(?:is|are|may|might|could|likely)?\s*)?(?:most\s+)?(?:likely\s+|probably\s+|possibly\s+)?"
    r"(?:(?:compatible|consistent)\s+with|suggestive\s+of|suggesting|concerning\s+for|representing|represents?|reflecting|reflects?|due\s+to|from|likely|probably|possibly)"
    r"(?:\s+(?:a|an|the|early|developing|some|focal|mild|small|subsegmental))*\s*$",
    re.I,
)
# A grade word ending its clause ("..., mild." / "is small,") and a prepositional place phrase.
_PREDICATE_GRADE = re.compile(r"([\w-]+(?:\s+(?:limits?\s+of\s+normal|normal))?)(?=\s*(?:[,.;:]|$))", re.I)
_PLACE_PHRASE = re.compile(
    r"\b(?:in|at|on|within|along|involving|of)\s+((?:[\w-]+\s+){0,6}?[\w-]+)(?=\s*(?:[,.;:]|$|\s+(?:and|with|which|that|is|are|was|were)\b))",
    re.I,
)
_PRE_LIMIT = 6
_POST_LIMIT = 8


def _words_regex(words: Iterable[str]) -> re.Pattern[str]:
    alts = sorted({w.lower() for w in words}, key=len, reverse=True)
    return re.compile(
        r"(?<![\w-])(?:" + "|".join(re.escape(a).replace(r"\ ", r"\s+") for a in alts) + r")(?![\w-])", re.I
    )


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
        # results by (text, last): mention and clause texts repeat across sentences
        self._memo: dict[tuple, str | None] = {}

    def find_laterality(self, text: str, last: bool) -> str | None:
        key = ("L", text, last)
        if key in self._memo:
            return self._memo[key]
        found = self._find_laterality(text, last)
        self._remember(key, found)
        return found

    def find_severity(self, text: str, last: bool) -> str | None:
        key = ("S", text, last)
        if key in self._memo:
            return self._memo[key]
        found = self._find_severity(text, last)
        self._remember(key, found)
        return found

    def find_location(self, text: str) -> str | None:
        key = ("P", text)
        if key in self._memo:
            return self._memo[key]
        found = _location(self, text)
        self._remember(key, found)
        return found

    def _remember(self, key: tuple, value: str | None) -> None:
        if len(self._memo) >= 50_000:
            self._memo.clear()
        self._memo[key] = value

    def _find_laterality(self, text: str, last: bool) -> str | None:
        hits = [self.laterality_words[re.sub(r"\s+", " ", m.group(0).lower())] for m in self.laterality.finditer(text)]
        if not hits:
            return None
        if "bilateral" in hits or {"left", "right"} <= set(hits):
            # "left and right", "bibasilar", or both sides named in the same clause
            return "bilateral"
        return hits[-1] if last else hits[0]

    def _find_severity(self, text: str, last: bool) -> str | None:
        hits = list(self.severity.finditer(text))
        if not hits:
            return None
        word = (hits[-1] if last else hits[0]).group(0).lower()
        return self.severity_words.get(re.sub(r"\s+", " ", word))


class _Tokens:
    """Per-doc token table: texts, lower forms, char offsets, sentence starts (no Token objects later)."""

    __slots__ = ("text", "words", "lowers", "spaces", "idx", "ends", "sent_starts", "n")

    def __init__(self, text: str, words: list[str], lowers: list[str], idx: list[int], sent_starts: list[int]) -> None:
        self.text, self.words, self.lowers, self.idx, self.sent_starts = text, words, lowers, idx, sent_starts
        self.spaces = [w.isspace() for w in words]  # Token.is_space
        self.ends = [i + len(w) for i, w in zip(idx, words, strict=True)]
        self.n = len(words)

    @classmethod
    def from_doc(cls, doc: Doc) -> _Tokens:
        """From a processed doc (sentence starts set)."""
        words, lowers, idx, sent_starts = [], [], [], []
        for t in doc:
            words.append(t.text)
            lowers.append(t.lower_)
            idx.append(t.idx)
            if t.is_sent_start:
                sent_starts.append(t.i)
        return cls(doc.text, words, lowers, idx, sent_starts)

    @classmethod
    def from_table(cls, text: str, table, strings, start: int, end: int) -> _Tokens:  # noqa: ANN001
        """Tokens [start, end) of `doc.to_array([ORTH, SPACY, LOWER, IDX])` (earlier ones are blanks)."""
        pad = [""] * start
        return cls(
            text,
            pad + [strings[o] for o in table[start:end, 0].tolist()],
            pad + [strings[o] for o in table[start:end, 2].tolist()],
            [0] * start + table[start:end, 3].tolist(),
            [],
        )

    def span_text(self, start: int, end: int) -> str:
        """`doc[start:end].text`."""
        return self.text[self.idx[start] : self.ends[end - 1]] if start < end else ""

    def sent_of(self, start: int, end: int) -> tuple[int, int]:
        """Token range of `doc[start:end].sent` (spaCy's rule: back to a start, forward to the next one)."""
        starts = self.sent_starts
        i = bisect_right(starts, start) - 1
        j = bisect_left(starts, end)
        return (starts[i] if i >= 0 else 0), (starts[j] if j < len(starts) else self.n)


class _Ent:
    """A target span with its ConText attributes read once (each `span._` access builds an object)."""

    __slots__ = (
        "span",
        "start",
        "end",
        "label",
        "sent_start",
        "sent_end",
        "modifiers",
        "negated",
        "uncertain",
        "historical",
        "hypothetical",
    )

    def __init__(self, span: Span, sent: tuple[int, int], context: tuple | None = None) -> None:
        self.span = span
        self.start, self.end, self.label = span.start, span.end, span.label_
        self.sent_start, self.sent_end = sent
        if context is None:
            ext = span._
            context = (ext.modifiers, ext.is_negated, ext.is_uncertain, ext.is_historical, ext.is_hypothetical)
        self.modifiers, self.negated, self.uncertain, self.historical, self.hypothetical = context


def _clause_bounds(
    toks: _Tokens, span_start: int, span_end: int, sent: tuple[int, int], target_tokens: set[int], statement: bool
) -> tuple[int, int]:
    """Token range [lo, hi) around a span that belongs to it: stop at punctuation, other targets, stop words."""
    words, lowers, spaces = toks.words, toks.lowers, toks.spaces
    sent_start, sent_end = sent
    lo = span_start
    i = span_start - 1
    while i >= sent_start and span_start - i <= _PRE_LIMIT:
        low = lowers[i]
        if i in target_tokens or words[i] in _BOUNDARY_PUNCT or spaces[i]:
            break
        if low in _STOP_WORDS:
            # keep "left and right" together
            if low in ("and", "or") and i - 1 >= sent_start and lowers[i - 1] in ("left", "right"):
                i -= 1
                continue
            break
        lo = i
        i -= 1
    hi = span_end
    i = span_end
    while i < sent_end and i - span_end < _POST_LIMIT:
        low = lowers[i]
        if i in target_tokens or words[i] in _BOUNDARY_PUNCT or spaces[i]:
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
        self.rules = rules if rules is not None else load_findings_rules(rules_dir)
        self.nlp = build_nlp(self.rules)
        self._vocab = _Vocab(self.rules.modifiers)
        self._statements = self.rules.statements
        # per-sentence fast path (see the module docstring); None when the rules are not sentence-local
        self._sections = self._runner = None
        if _sentence_local(self.nlp, self.rules):
            self._runner = _SentenceRunner.build(self.nlp)
            self._sections = _SectionFinder.build(self.nlp) if self._runner is not None else None
        self._ends: dict[int, bool] = {}  # ORTH hash -> the token ends a sentence
        self._cache: dict[bytes, tuple] = {}  # sentence tokens -> finding templates

    def clear_cache(self) -> None:
        """Forget the per-sentence results (the cache is bounded; this is for benchmarks and tests)."""
        self._cache.clear()

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
        return self._extract(text or "", report_id, section)

    def extract_report(self, report: Report) -> list[Finding]:
        """Extract findings from `report.text`; offsets index into it, sections come from its headers."""
        return self._extract(report.text or "", report.report_id, None)

    def extract_many(self, reports: Iterable[Report], batch_size: int = 64) -> Iterator[tuple[Report, list[Finding]]]:
        """Stream (report, findings) pairs; memory stays flat for any input length.

        Args:
            reports: any iterable of Report records (consumed lazily).
            batch_size: texts per spaCy batch when the full pipeline runs (rules that are not
                sentence-local); the per-sentence path handles one report at a time.

        Yields:
            Each report with its findings, in input order.
        """
        if self._sections is not None:
            for report in reports:
                yield report, self._extract(report.text or "", report.report_id, None)
            return
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
        return [Finding(**row) for _, row in self._doc_rows(doc, report_id, section)]

    # -- per-sentence path ------------------------------------------------------------------------
    def _extract(self, text: str, report_id: str, section: str | None) -> list[Finding]:
        """Findings of one text through the sentence cache (or the full pipeline; see the module docstring)."""
        if self._sections is None:
            return self.doc_findings(self.nlp(text), report_id=report_id, section=section)
        doc = self.nlp.make_doc(text)
        n = len(doc)
        if not n:
            return []
        table = doc.to_array([ORTH, SPACY, LOWER, IDX])
        tokens = table[:, :2].copy()  # the cache key of a sentence is its slice of this array
        ends, strings = self._ends, doc.vocab.strings
        bounds: list[tuple[int, int]] = []
        start = 0
        for i, orth in enumerate(table[:, 0].tolist()):
            end = ends.get(orth)
            if end is None:
                end = ends[orth] = ends_sentence(strings[orth])
            if end:
                bounds.append((start, i + 1))
                start = i + 1
        if start < n:
            bounds.append((start, n))
        cache = self._cache
        headers = None
        findings: list[Finding] = []
        for s, e in bounds:
            key = tokens[s:e].tobytes()
            templates = cache.get(key)
            if templates is None:
                templates = self._sentence_templates(doc, _Tokens.from_table(text, table, strings, s, e), table, s, e)
                if len(cache) >= _CACHE_MAX:
                    cache.clear()
                cache[key] = templates
            if not templates:
                continue
            if section is None and headers is None:
                headers = self._sections(doc, text)
            offset = int(table[s, 3])
            for ent_start, row, start, end, sent_start, sent_end in templates:
                # `row` holds every field in Finding order; these keys keep their place
                findings.append(
                    _finding_from_row(
                        {
                            **row,
                            "report_id": report_id,
                            "section": section or _section_at(headers, s + ent_start),
                            "start": start + offset,
                            "end": end + offset,
                            "sentence_start": sent_start + offset,
                            "sentence_end": sent_end + offset,
                        }
                    )
                )
        # each sentence's rows are in output order and sentences do not overlap: no sort needed
        return findings

    def _sentence_templates(self, doc: Doc, toks: _Tokens, table, start: int, end: int) -> tuple:  # noqa: ANN001
        """Rows of sentence doc[start:end] with offsets relative to it (entity token, char offsets)."""
        ents = self._runner(doc, set(table[start:end, 2].tolist()), start, end)
        if not ents:
            return ()
        rows = self._doc_rows(doc, "", "other", ents=ents, toks=toks)
        base = toks.idx[start]
        templates = []
        for ent_start, row in rows:
            # rows hold plain str / bool / int / None values made by _finding (the types and
            # Literal values of Finding), so findings are built from them without validation
            offsets = [row[key] - base for key in ("start", "end", "sentence_start", "sentence_end")]
            templates.append((ent_start - start, row, *offsets))
        return tuple(templates)

    def _doc_rows(
        self,
        doc: Doc,
        report_id: str,
        section: str | None,
        *,
        ents: list[_Ent] | None = None,
        toks: _Tokens | None = None,
    ) -> list[tuple[int, dict]]:
        """(first token of the entity, Finding fields) for every mention, in output order.

        `doc` is processed by the pipeline (targets in `doc.ents`, ConText attributes on them), or
        `ents` gives the targets of one sentence with their ConText results (`_SentenceRunner`).
        """
        findings: list[tuple[int, dict]] = []
        if ents is None:
            spans = doc.ents
            if not spans:
                return findings
            toks = _Tokens.from_doc(doc)
            ents = [_Ent(span, toks.sent_of(span.start, span.end)) for span in spans]
        assert toks is not None
        target_tokens = {i for ent in ents for i in range(ent.start, ent.end)}
        ents_per_sent: dict[int, int] = {}
        for ent in ents:
            ents_per_sent[ent.sent_start] = ents_per_sent.get(ent.sent_start, 0) + 1
        previous: dict[int, _Ent] = {}  # last entity seen in each sentence
        # per-doc state read by _finding (one extractor serves one doc at a time):
        # entity start -> token range whose side / grade / place it owns
        self._sentence_scope: dict[int, tuple[int, int]] = {}
        self._ent_findings: dict[int, dict] = {}
        for ent in ents:
            prior = previous.get(ent.sent_start)
            previous[ent.sent_start] = ent
            if ents_per_sent[ent.sent_start] == 1:
                self._sentence_scope[ent.start] = (ent.sent_start, ent.sent_end)
            elif prior is not None and _RESTATEMENT.search(toks.span_text(prior.end, ent.start)):
                # "opacity in the left lower lobe, compatible with infiltrate": same finding
                self._sentence_scope[ent.start] = (prior.start, prior.end)
        for ent in ents:
            statement = self._statements.get(ent.label)
            sent = (ent.sent_start, ent.sent_end)
            lo, hi = _clause_bounds(toks, ent.start, ent.end, sent, target_tokens, statement is not None)
            sec = section or _section_of(ent.span)
            if statement is None:
                findings.append(
                    (
                        ent.start,
                        self._finding(
                            toks, ent.start, ent.end, ent.label, _assertion(ent), lo, hi, sent, sec, report_id, ent
                        ),
                    )
                )
                continue
            state = _closest_state(ent, ents)
            if (
                state is not None
                and state.category in ("ENLARGED", "BORDERLINE", "UPPER_NORMAL")
                and statement.abnormal_implies
            ):
                j0, j1 = _join(ent, state)
                # "upper limits of normal" is normal by definition yet hints at enlargement: uncertain
                assertion = "uncertain" if state.category == "UPPER_NORMAL" else _assertion(ent)
                if state.modifier_span[0] > 0 and toks.lowers[state.modifier_span[0] - 1] in _STATE_NEGATORS:
                    # "Heart size: no enlargement" (the "no" follows the organ, so ConText misses it)
                    assertion = "negative"
                severity = "borderline" if state.category in ("BORDERLINE", "UPPER_NORMAL") else None
                for obs in statement.abnormal_implies:
                    findings.append(
                        (
                            ent.start,
                            self._finding(
                                toks,
                                j0,
                                j1,
                                obs,
                                assertion,
                                min(lo, j0),
                                max(hi, j1),
                                sent,
                                sec,
                                report_id,
                                ent,
                                severity=severity,
                            ),
                        )
                    )
            elif (state is not None and state.category == "NORMAL") or (
                statement.negation_means_normal and ent.negated
            ):
                j0, j1 = _join(ent, state) if state is not None else (ent.start, ent.end)
                for obs in statement.normal_implies:
                    findings.append(
                        (
                            ent.start,
                            self._finding(
                                toks, j0, j1, obs, "negative", lo, hi, sent, sec, report_id, ent, qualifiers=False
                            ),
                        )
                    )
        findings.sort(key=lambda f: _ORDER(f[1]))
        return findings

    def _finding(
        self,
        toks: _Tokens,
        span_start: int,
        span_end: int,
        observation: str,
        assertion: str,
        lo: int,
        hi: int,
        sent: tuple[int, int],
        section: str,
        report_id: str,
        ent: _Ent,
        *,
        severity: str | None = None,
        qualifiers: bool = True,
    ) -> dict:
        """Finding fields of one mention: the tokens [span_start, span_end) of entity `ent`."""
        text = toks.text
        mention = toks.span_text(span_start, span_end)
        laterality = location = None
        if qualifiers:
            v = self._vocab
            pre = toks.span_text(lo, span_start)
            post = toks.span_text(span_end, hi)
            laterality = (
                v.find_laterality(pre, last=True)
                or v.find_laterality(mention, last=True)
                or v.find_laterality(post, last=False)
            )
            if severity is None:
                severity = (
                    v.find_severity(pre, last=True)
                    or v.find_severity(mention, last=True)
                    or v.find_severity(post, last=False)
                )
            location = v.find_location(toks.span_text(lo, hi))
            scope = self._sentence_scope.get(ent.start)
            if scope is not None and scope[0] != ent.start:
                # a restatement ("..., compatible with infiltrate") is on the restated finding's side;
                # its place is left alone: an impression's vaguer place ("right lobe") would stand in
                # for the findings section's precise one
                prior_f = self._ent_findings.get(scope[0])
                if prior_f is not None and not laterality and prior_f["laterality"] != "none":
                    laterality = prior_f["laterality"]
            elif scope is not None:
                # the only finding of its sentence owns the sentence's side, a grade said as a
                # predicate ("..., mild.") and a place introduced by a preposition ("in the rib")
                rest = toks.span_text(scope[0], span_start) + " , " + toks.span_text(span_end, scope[1])
                laterality = laterality or v.find_laterality(rest, last=False)
                if severity is None:
                    severity = v.find_severity(" ".join(_PREDICATE_GRADE.findall(rest)), last=False)
                location = location or v.find_location(" , ".join(m.group(1) for m in _PLACE_PHRASE.finditer(rest)))
        s_start, s_end = _strip(text, toks.idx[sent[0]], toks.ends[sent[1] - 1])
        # the keyword arguments of Finding, in field order
        finding = {
            "report_id": report_id,
            "observation": observation,
            "mention": mention,
            "assertion": assertion,
            "historical": bool(ent.historical),
            "hypothetical": bool(ent.hypothetical),
            "laterality": laterality or "none",
            "severity": severity,
            "location": location,
            "section": section,
            "sentence": text[s_start:s_end],
            "start": toks.idx[span_start],
            "end": toks.ends[span_end - 1],
            "sentence_start": s_start,
            "sentence_end": s_end,
        }
        self._ent_findings[ent.start] = finding
        return finding


_CACHE_MAX = 100_000  # sentences kept; the IU reports have ~9,000 distinct ones
_FINDING_FIELDS = tuple(Finding.model_fields)


def _ORDER(row: Finding | dict) -> tuple[int, int, str]:
    """Output order of findings: by span, then observation."""
    if isinstance(row, dict):
        return row["start"], row["end"], row["observation"]
    return row.start, row.end, row.observation


def _finding_from_row(row: dict) -> Finding:
    """A Finding from fields that were validated once already (cache hits): skips pydantic's validation.

    Same object as `Finding(**row)` (every field set, in field order); `_check_fast_finding` verifies
    that at import and falls back to validation if pydantic's internals ever differ.
    """
    obj = _new_finding(Finding)
    _set(obj, "__dict__", row)
    _set(obj, "__pydantic_fields_set__", set(_FINDING_FIELDS))
    _set(obj, "__pydantic_extra__", None)
    _set(obj, "__pydantic_private__", None)
    return obj


_new_finding = Finding.__new__
_set = object.__setattr__


def _check_fast_finding() -> None:
    global _finding_from_row
    row = {
        "report_id": "r",
        "observation": "nodule",
        "mention": "nodule",
        "assertion": "positive",
        "historical": False,
        "hypothetical": False,
        "laterality": "left",
        "severity": None,
        "location": "left lung",
        "section": "findings",
        "sentence": "Left nodule.",
        "start": 5,
        "end": 11,
        "sentence_start": 0,
        "sentence_end": 12,
    }
    try:
        fast, slow = _finding_from_row(dict(row)), Finding(**row)
        same = (
            fast == slow
            and fast.model_fields_set == slow.model_fields_set
            and fast.model_dump() == slow.model_dump()
            and repr(fast) == repr(slow)
        )
    except Exception:  # pragma: no cover - a pydantic release with other internals
        same = False
    if not same:  # pragma: no cover
        _finding_from_row = lambda row: Finding(**row)  # noqa: E731


_check_fast_finding()


def _section_at(headers: tuple[list[int], list[str]], token: int) -> str:
    """Section category of a token from the (sorted) header starts of its doc."""
    starts, categories = headers
    i = bisect_right(starts, token) - 1
    category = categories[i] if i >= 0 else None
    return category if category in SECTION_CATEGORIES else "other"


class _SentenceRunner:
    """medspaCy's target matcher and ConText for one sentence of a tokenised doc, with the same results.

    Runs the components' own matchers on the sentence span (the token Matcher only when its anchors
    allow a match, see `AnchoredMatcher`), prunes as `MedspacyMatcher` does, builds ConText modifiers
    with the sentence as their scope, and applies medspaCy's `ConTextGraph`. The targets' ConText
    attributes are handed over directly instead of through `span._` extensions.
    """

    _ATTRS = ("is_negated", "is_uncertain", "is_historical", "is_hypothetical", "is_family")  # is_family is not read

    def __init__(self, nlp, target_mm, context, context_mm) -> None:  # noqa: ANN001
        from medspacy.common.util import prune_overlapping_matches
        from medspacy.context import ConTextGraph, ConTextModifier

        self.vocab = nlp.vocab
        self.prune = prune_overlapping_matches
        self.Graph, self.Modifier = ConTextGraph, ConTextModifier
        self.target = self._parts(target_mm)
        self.context = self._parts(context_mm)
        self.prune_on_target_overlap = context.prune_on_target_overlap
        self.mapping = context.context_attributes_mapping or {}

    @staticmethod
    def _parts(mm):  # noqa: ANN001, ANN205
        return mm._MedspacyMatcher__matcher, mm._MedspacyMatcher__phrase_matcher, mm._prune, mm.rule_map

    @classmethod
    def build(cls, nlp) -> _SentenceRunner | None:  # noqa: ANN001
        """None when medspaCy's internals are not the ones this shortcut reproduces."""
        target = nlp.get_pipe("medspacy_target_matcher")
        context = nlp.get_pipe("medspacy_context")
        try:
            target_mm, context_mm = target._TargetMatcher__matcher, context._ConText__matcher
            for mm in (target_mm, context_mm):
                cls._parts(mm)
                if mm._MedspacyMatcher__regex_matcher._patterns:
                    return None
            plain = (
                target.result_type == "ents"
                and all(rule.attributes is None and rule.on_match is None for rule in target_mm.rules)
                and all(rule.on_modifies is None and rule.on_match is None for rule in context_mm.rules)
                and set(_SentenceRunner._ATTRS)
                >= {a for attrs in (context.context_attributes_mapping or {}).values() for a in attrs}
            )
        except AttributeError:
            return None
        return cls(nlp, target_mm, context, context_mm) if plain else None

    def _matches(self, parts, doc: Doc, lowers: set[int], start: int, end: int) -> list:  # noqa: ANN001
        """MedspacyMatcher.__call__ on doc[start:end]: token matches, phrase matches, pruned."""
        token_matcher, phrase_matcher, prune, _ = parts
        sent = doc[start:end]
        matches = []
        if not isinstance(token_matcher, AnchoredMatcher) or token_matcher.may_match(lowers):
            raw = token_matcher.matcher if isinstance(token_matcher, AnchoredMatcher) else token_matcher
            if len(raw):
                # the token Matcher counts from the span start, the PhraseMatcher from the doc start
                matches = [(key, s + start, e + start) for key, s, e in raw(sent)]
        matches += phrase_matcher(sent)
        return _prune(matches, self.prune) if prune else matches

    def __call__(self, doc: Doc, lowers: set[int], start: int, end: int) -> list[_Ent]:
        """Targets of sentence doc[start:end] with their ConText results, in text order."""
        strings = self.vocab.strings
        rule_map = self.target[3]
        spans = [
            Span(doc, s, e, label=rule_map[strings[key]].category)
            for key, s, e in self._matches(self.target, doc, lowers, start, end)
        ]
        if not spans:
            return []
        spans.sort(key=lambda span: span.start)  # doc.ents order
        sent = (start, end)
        matches = self._matches(self.context, doc, lowers, start, end)
        if not matches:
            return [_Ent(span, sent, ((), False, False, False, False)) for span in spans]
        rule_map = self.context[3]
        modifiers = []
        for key, m_start, m_end in matches:
            rule = rule_map[strings[key]]
            scope_start, scope_end = _scope(rule, m_start, m_end, start, end)
            modifiers.append(self.Modifier(rule, m_start, m_end, None, scope_start=scope_start, scope_end=scope_end))
        graph = self.Graph(targets=spans, modifiers=modifiers, prune_on_modifier_overlap=self.prune_on_target_overlap)
        graph.update_scopes()
        graph.apply_modifiers()
        index = {id(span): i for i, span in enumerate(spans)}
        mods: list[tuple] = [() for _ in spans]
        attrs = [dict.fromkeys(self._ATTRS, False) for _ in spans]
        for target, modifier in graph.edges:
            i = index[id(target)]
            mods[i] += (modifier,)
            for name, value in self.mapping.get(modifier.category, {}).items():
                attrs[i][name] = value
        return [
            _Ent(
                span,
                sent,
                (
                    mods[i],
                    attrs[i]["is_negated"],
                    attrs[i]["is_uncertain"],
                    attrs[i]["is_historical"],
                    attrs[i]["is_hypothetical"],
                ),
            )
            for i, span in enumerate(spans)
        ]


_GLOBAL_FLAGS = re.compile(r"^\(\?[aiLmsux]+\)")


def _alternations(patterns: list[re.Pattern[str]]) -> list[re.Pattern[str]]:
    """One regex per flag set that matches wherever one of `patterns` does (a quick 'any match?' test)."""
    groups: dict[int, list[str]] = {}
    for p in patterns:
        groups.setdefault(p.flags, []).append(_GLOBAL_FLAGS.sub("", p.pattern))  # flags are in p.flags
    try:
        return [re.compile("|".join(f"(?:{body})" for body in bodies), flags) for flags, bodies in groups.items()]
    except re.error:  # pragma: no cover - a pattern that cannot be nested: test them one by one
        return list(patterns)


def _medspacy_matches(mm, doc: Doc) -> list:  # noqa: ANN001
    """`MedspacyMatcher.__call__` (token, phrase, regex matches, pruned) without calling an empty
    token Matcher, which makes spaCy format a W036 warning on every doc."""
    try:
        token, phrase, regex, prune = (
            mm._MedspacyMatcher__matcher,
            mm._MedspacyMatcher__phrase_matcher,
            mm._MedspacyMatcher__regex_matcher,
            mm._prune,
        )
    except AttributeError:  # pragma: no cover - another medspaCy layout
        return mm(doc)
    matches = token(doc) if len(token) else []
    matches += phrase(doc)
    if regex._patterns:
        matches += regex(doc)
    if prune:
        from medspacy.common.util import prune_overlapping_matches

        matches = _prune(matches, prune_overlapping_matches)
    return matches


def _prune(matches: list, prune_overlapping_matches) -> list:  # noqa: ANN001
    """medspaCy's `prune_overlapping_matches`, answered directly when nothing overlaps.

    Its first pass sorts by (start, end) and keeps a match list without overlaps unchanged, so
    such a list comes back sorted; only overlapping matches need its pairwise rounds.
    """
    if len(matches) < 2:
        return matches if not matches else [matches[0]]
    ordered = sorted(matches, key=lambda m: (m[1], m[2]))
    for a, b in pairwise(ordered):
        if b[1] < a[2]:  # b starts before a ends (both non-empty)
            return prune_overlapping_matches(matches)
    return ordered


def _scope(rule, start: int, end: int, sent_start: int, sent_end: int) -> tuple[int, int]:  # noqa: ANN001
    """ConTextModifier's scope in its sentence (medspaCy `__set_scope` without a window)."""
    direction = rule.direction.lower()
    max_scope = rule.max_scope
    if direction == "forward":
        scope_start, scope_end = end, sent_end
        if max_scope is not None and scope_end - scope_start > max_scope:
            scope_end = end + max_scope
    elif direction == "backward":
        scope_start, scope_end = sent_start, start
        if max_scope is not None and scope_end - scope_start > max_scope:
            scope_start = start - max_scope
    else:  # bidirectional (and terminate / pseudo)
        scope_start, scope_end = sent_start, sent_end
        if max_scope is not None and start - scope_start > max_scope:
            scope_start = start - max_scope
        if max_scope is not None and scope_end - end > max_scope:
            scope_end = end + max_scope
    return scope_start, scope_end


class _SectionFinder:
    """The sections medspaCy's sectionizer would give, without writing `token._.section` on every token.

    Uses the sectionizer's own rules (a MedspacyMatcher built from `sectionizer.rules`, in the same
    order) and its header filter; a token's section is the last header starting at or before it.
    """

    def __init__(self, nlp, sectionizer) -> None:  # noqa: ANN001
        from medspacy.common.medspacy_matcher import MedspacyMatcher
        from medspacy.section_detection.util import is_start_line

        self.is_start_line = is_start_line
        self.vocab = nlp.vocab
        self.sectionizer = sectionizer
        rules = sectionizer.rules
        self.matcher = MedspacyMatcher(nlp, name="radprm_sections", phrase_matcher_attr="LOWER")
        self.matcher.add(rules)
        # medspaCy's RegexMatcher joins the doc text once per pattern; most texts match no regex
        # header at all, so a quick search on the text picks a matcher without the regex rules
        regex = getattr(self.matcher, "_MedspacyMatcher__regex_matcher", None)
        compiled = [p for pats in getattr(regex, "_patterns", {}).values() for p in pats]
        self.regexes = _alternations(compiled)
        self.plain = None
        if compiled and len(compiled) == sum(isinstance(r.pattern, str) for r in rules):
            self.plain = MedspacyMatcher(nlp, name="radprm_sections", phrase_matcher_attr="LOWER")
            self.plain.add([r for r in rules if not isinstance(r.pattern, str)])

    @classmethod
    def build(cls, nlp) -> _SectionFinder | None:  # noqa: ANN001
        """None when the sectionizer is configured in a way this shortcut does not reproduce."""
        sz = nlp.get_pipe("medspacy_sectionizer")
        plain = (
            getattr(sz, "max_section_length", None) is None
            and not getattr(sz, "require_end_line", False)
            and not getattr(sz, "_apply_sentence_boundary", True)
            and all(r.max_scope is None and not r.parents for r in sz.rules)
            and not (set(getattr(sz, "assertion_attributes_mapping", None) or {}) & {r.category for r in sz.rules})
        )
        return cls(nlp, sz) if plain else None

    def __call__(self, doc: Doc, text: str) -> tuple[list[int], list[str]]:
        """Header starts and their categories for a doc of `text` (its `text_with_ws`)."""
        sz = self.sectionizer
        matcher = self.matcher
        if self.plain is not None and not any(p.search(text) for p in self.regexes):
            matcher = self.plain
        matches = _medspacy_matches(matcher, doc)
        if sz.require_start_line:
            matches = [m for m in matches if self.is_start_line(m[1], doc, sz.newline_pattern)]
        rule_map, strings = matcher.rule_map, self.vocab.strings
        return [m[1] for m in matches], [rule_map[strings[m[0]]].category for m in matches]


_LITERAL_ATTRS = {"LOWER", "TEXT", "ORTH", "NORM"}


def _sentence_local(nlp, rules: RuleSet) -> bool:  # noqa: ANN001
    """Whether no target or ConText rule can match across a sentence end, and ConText stays in its sentence.

    A match crosses a sentence end only when a token before its last one can be a sentence-ending
    token ('.', '?', '!', dots, line breaks). Phrases are checked token by token; token patterns must
    spell every non-final token as literal words (LOWER / TEXT / ORTH / NORM, a string or an IN list);
    regex patterns run over the whole text and disable the per-sentence path.
    """
    context = nlp.get_pipe("medspacy_context")
    if getattr(context, "max_scope", None) is not None or getattr(context, "input_span_type", "ents") != "ents":
        return False

    def literal_ok(value: object) -> bool:
        values = value["IN"] if isinstance(value, dict) and set(value) == {"IN"} else [value]
        return all(isinstance(v, str) and v and not ends_sentence(v) for v in values)

    def token_ok(tok: object) -> bool:
        if not isinstance(tok, dict) or not set(tok) - {"OP"} or set(tok) - {"OP"} - _LITERAL_ATTRS:
            return False
        return all(literal_ok(v) for k, v in tok.items() if k != "OP")

    for spec in [*rules.target_rules, *rules.context_rules]:
        for literal, pattern in _variants(spec):  # what build_nlp registered
            if isinstance(pattern, str):
                return False
            if pattern is None:
                words = [t.text for t in nlp.tokenizer(literal.lower())]
                if any(ends_sentence(w) for w in words[:-1]):
                    return False
                continue
            *head, last = pattern
            if not all(token_ok(tok) for tok in head):
                return False
            if isinstance(last, dict) and last.get("OP") in ("*", "+") and not token_ok(last):
                return False
    return True


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


def _closest(ent: _Ent, categories: tuple[str, ...]):
    mods = [m for m in ent.modifiers if m.category in categories]
    return min(mods, key=lambda m: _distance(ent, m)) if mods else None


_STATES = ("NORMAL", "ENLARGED", "BORDERLINE", "UPPER_NORMAL")
_STATE_NEGATORS = {"no", "not", "without"}


def _closest_state(ent: _Ent, ents: list[_Ent]):
    """The organ-state modifier of a statement, preferring one that is not closer to another statement.

    In "stable mild enlargement of the heart and normal lung vascularity" the "normal" belongs to
    the lungs, not to the heart, although medspaCy lets it modify both.
    """
    states = [m for m in ent.modifiers if m.category in _STATES]
    if len(states) < 2:
        return states[0] if states else None
    own = [
        m
        for m in states
        if not any(
            other is not ent and m in other.modifiers and _distance(other, m) < _distance(ent, m) for other in ents
        )
    ]
    # a state nearer to another organ still counts when it is the only one ("chest show normal
    # size ... of the cardiac silhouette")
    mods = own or states
    return min(mods, key=lambda m: _distance(ent, m)) if mods else None


def _assertion(ent: _Ent | Span) -> str:
    """negative / uncertain / positive; when both cues apply, the nearer one wins ("no definite ...").

    An alternative ("atelectasis or scarring") makes a mention uncertain unless it is negated: in
    "no effusion or pneumothorax" the "or" joins negated items.
    """
    if isinstance(ent, Span):
        ent = _Ent(ent, (0, 0))
    if not ent.negated and not ent.uncertain:
        return "uncertain" if any(m.category == "ALTERNATIVE" for m in ent.modifiers) else "positive"
    if ent.negated and ent.uncertain:
        if _negation_covers_hedge(ent):
            return "negative"
        mod = _closest(ent, ("NEGATED_EXISTENCE", "POSSIBLE_EXISTENCE"))
        return "negative" if mod is not None and mod.category == "NEGATED_EXISTENCE" else "uncertain"
    if ent.negated:
        return "negative"
    if ent.uncertain:
        return "uncertain"
    return "positive"


def _negation_covers_hedge(ent: _Ent) -> bool:
    """True when a hedge adjective sits inside a negation's scope rather than competing with it.

    Hedges whose rule carries `metadata.yields_to_negation` ("suspicious") describe the noun they
    precede; a negation before them ("No focal consolidation, suspicious opacity or effusion") or a
    negated predicate after the noun ("Suspicious nodules are absent") denies the whole phrase.
    """
    hedges = [m for m in ent.modifiers if m.category == "POSSIBLE_EXISTENCE" and m.modifier_span[1] <= ent.start]
    if not hedges or not all((m.rule.metadata or {}).get("yields_to_negation") for m in hedges):
        return False
    first_hedge = min(m.modifier_span[0] for m in hedges)
    for neg in ent.modifiers:
        if neg.category != "NEGATED_EXISTENCE":
            continue
        if neg.modifier_span[1] <= first_hedge or neg.modifier_span[0] >= ent.end:
            return True
    return False


def _join(ent: _Ent, modifier) -> tuple[int, int]:
    """Token range from a statement to its qualifier ('heart is mildly enlarged'), within the sentence."""
    m_start, m_end = modifier.modifier_span
    return min(ent.start, m_start), max(ent.end, m_end)


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
