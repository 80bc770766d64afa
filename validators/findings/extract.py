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
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

from spacy.attrs import ORTH, SPACY
from spacy.tokens import Doc, Span

from radprm.schemas.records import Finding, Report
from radprm.validators.findings.lexicon import SECTION_CATEGORIES, RuleSet, load_rules
from radprm.validators.findings.nlp import SENTENCE_COMPONENT, _variants, build_nlp, ends_sentence

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
        # per-sentence fast path (see the module docstring); None when the rules are not sentence-local
        self._sections = _SectionFinder.build(self.nlp) if _sentence_local(self.nlp, self.rules) else None
        self._sentence_pipes = [self.nlp.get_pipe(name) for name in (SENTENCE_COMPONENT, "medspacy_target_matcher", "medspacy_context")]
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
        tokens = doc.to_array([ORTH, SPACY])  # the cache key of a sentence is its slice of this array
        ends, strings = self._ends, doc.vocab.strings
        bounds: list[tuple[int, int]] = []
        start = 0
        for i, orth in enumerate(tokens[:, 0].tolist()):
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
                templates = self._sentence_templates(doc, tokens, s, e)
                if len(cache) >= _CACHE_MAX:
                    cache.clear()
                cache[key] = templates
            if not templates:
                continue
            if section is None and headers is None:
                headers = self._sections(doc, text)
            offset = doc[s].idx
            for ent_start, row in templates:
                row = dict(row)  # fields in Finding order
                row["report_id"] = report_id
                row["section"] = section or _section_at(headers, s + ent_start)
                row["start"] += offset
                row["end"] += offset
                row["sentence_start"] += offset
                row["sentence_end"] += offset
                findings.append(_finding_from_row(row))
        findings.sort(key=_ORDER)
        return findings

    def _sentence_templates(self, doc: Doc, tokens, start: int, end: int) -> tuple:  # noqa: ANN001
        """Rows of one sentence, offsets relative to its first character, on a Doc of that sentence alone."""
        if (start, end) == (0, len(doc)):
            sdoc = self._sentence_pipes[0](doc)
        else:
            strings = doc.vocab.strings
            words = [strings[orth] for orth in tokens[start:end, 0].tolist()]
            spaces = [bool(sp) for sp in tokens[start:end, 1].tolist()]
            # the one sentence the splitter would mark: first token starts it, no other does
            sdoc = Doc(doc.vocab, words=words, spaces=spaces, sent_starts=[True] + [False] * (len(words) - 1))
        sdoc = self._sentence_pipes[1](sdoc)  # targets
        if not sdoc.ents:
            return ()  # ConText and the row code only ever look at targets
        sdoc = self._sentence_pipes[2](sdoc)  # ConText
        rows = self._doc_rows(sdoc, "", "other")
        for _, row in rows:
            Finding(**row)  # validate once; cache hits are built without validation
        return tuple(rows)

    def _doc_rows(self, doc: Doc, report_id: str, section: str | None) -> list[tuple[int, dict]]:
        """(first token of the entity, Finding fields) for every mention of a processed Doc, in output order."""
        findings: list[tuple[int, dict]] = []
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
        self._ent_findings: dict[int, dict] = {}
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
                findings.append((ent.start, self._finding(doc, text, ent, ent.label_, _assertion(ent), lo, hi, sent, sec, report_id)))
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
                    findings.append((ent.start, self._finding(doc, text, span, obs, assertion, min(lo, span.start), max(hi, span.end), sent, sec, report_id, severity=severity, ent=ent)))
            elif (state is not None and state.category == "NORMAL") or (statement.negation_means_normal and ent._.is_negated):
                span = _join(doc, ent, state) if state is not None else ent
                for obs in statement.normal_implies:
                    findings.append((ent.start, self._finding(doc, text, span, obs, "negative", lo, hi, sent, sec, report_id, ent=ent, qualifiers=False)))
        findings.sort(key=lambda f: _ORDER(f[1]))
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
    ) -> dict:
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
                if prior_f is not None and not laterality and prior_f["laterality"] != "none":
                    laterality = prior_f["laterality"]
            elif scope is not None:
                # the only finding of its sentence owns the sentence's side, a grade said as a
                # predicate ("..., mild.") and a place introduced by a preposition ("in the rib")
                rest = doc[scope.start : span.start].text + " , " + doc[span.end : scope.end].text
                laterality = laterality or v.find_laterality(rest, last=False)
                if severity is None:
                    severity = v.find_severity(" ".join(_PREDICATE_GRADE.findall(rest)), last=False)
                location = location or _location(v, " , ".join(m.group(1) for m in _PLACE_PHRASE.finditer(rest)))
        s_start, s_end = _strip(text, sent.start_char, sent.end_char)
        # the keyword arguments of Finding, in field order
        finding = {
            "report_id": report_id,
            "observation": observation,
            "mention": mention,
            "assertion": assertion,
            "historical": bool(ent._.is_historical),
            "hypothetical": bool(ent._.is_hypothetical),
            "laterality": laterality or "none",
            "severity": severity,
            "location": location,
            "section": section,
            "sentence": text[s_start:s_end],
            "start": span.start_char,
            "end": span.end_char,
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
        "report_id": "r", "observation": "nodule", "mention": "nodule", "assertion": "positive", "historical": False,
        "hypothetical": False, "laterality": "left", "severity": None, "location": "left lung", "section": "findings",
        "sentence": "Left nodule.", "start": 5, "end": 11, "sentence_start": 0, "sentence_end": 12,
    }
    try:
        fast, slow = _finding_from_row(dict(row)), Finding(**row)
        same = fast == slow and fast.model_fields_set == slow.model_fields_set and fast.model_dump() == slow.model_dump() and repr(fast) == repr(slow)
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
        self.regexes = [p for pats in getattr(regex, "_patterns", {}).values() for p in pats]
        self.plain = None
        if self.regexes and len(self.regexes) == sum(isinstance(r.pattern, str) for r in rules):
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
        matches = matcher(doc)
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
