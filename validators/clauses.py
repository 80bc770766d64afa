"""How a reasoning step says things: clauses, meta talk, absence, hedges and change over time.

Models write steps that report text never contains: plans ("First I'll check the pleura"),
conditionals ("An effusion would blunt the costophrenic angle"), absence by omission ("Edema isn't
mentioned, so it's absent"), exclusions ("cardiomegaly is out", "argues against pneumonia") and
contractions. The findings extractor reads report language; this module reads step language:

- `normalize_step` expands contractions ("isn't" -> "is not") so cue words are plain words;
- `split_clauses` cuts a step into clauses at ";", ":", dashes and joining words ("so", "but",
  ", and", "which"...), each judged on its own (a step with several claims is judged claim by claim);
- `Clause.kind` is `meta` for intent/plan/question/option/conditional/generic-knowledge talk (its
  claims are dropped: glue, not a statement about this patient), `heading` for a leading "Nodule:"
  label, and `fact` otherwise;
- `clause_polarity` decides whether a mention inside a fact clause is negated (a negation cue before
  it, or an absence cue after it), kept open ("cannot be excluded") or hedged, with the hedge strength;
- `temporal_classes` names the change over time a text states (new, unchanged, increased, ...).

Every cue list is data: the `step_language` block of `step_rules.json`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from radprm.errors import RuleFileError
from radprm.rules import RuleModel

# (clear_text_caches re-exported: one switch empties every reading cache)
from radprm.validators.memo import clear_text_caches as clear_text_caches
from radprm.validators.memo import remember, text_cache
from radprm.validators.prefilter import can_match, group_gate, prefiltered

HEDGE_STRENGTHS = ("certain", "probable", "possible", "open")
"""Hedge strength, strongest first: stated, probable ('likely'), possible ('may'), open ('cannot exclude')."""

_CONTRACTIONS = [
    (re.compile(r"\bcan[’']t\b", re.I), "cannot"),
    (re.compile(r"\bwon[’']t\b", re.I), "will not"),
    (re.compile(r"\b(\w+)n[’']t\b", re.I), r"\1 not"),
    (re.compile(r"\b(I|you|we|they|he|she|it|that|there|which|who)[’']ll\b", re.I), r"\1 will"),
    (re.compile(r"\b(I|you|we|they)[’']d\b", re.I), r"\1 would"),
    (re.compile(r"\b(I)[’']m\b", re.I), r"\1 am"),
    (re.compile(r"\b(we|they|you)[’']re\b", re.I), r"\1 are"),
    (re.compile(r"\b(I|we|they|you)[’']ve\b", re.I), r"\1 have"),
    (re.compile(r"\b(there|it|that|what|here)[’']s\b", re.I), r"\1 is"),
    (re.compile(r"[‘’]"), "'"),
    (re.compile(r"[“”]"), '"'),
]


_QUOTES = re.compile("['\u2018\u2019\u201c\u201d]")
# a finding answered by a verdict word after a colon, "=", " - " or "->" ("Cardiomegaly: yes. Edema: no.",
# "Pneumothorax - No"; not "Final answer: no", which answers the question)
_VERDICT_WORD = re.compile(r"\b(?:yes|no|absent|present|negative|positive)\b", re.I)
_ANSWERED = (
    # the name opens its clause and has no verb ("Cardiomegaly: the heart is normal in size - absent" answers
    # "Cardiomegaly", not "the heart is normal in size")
    r"(?<![\w-])(?<!\w\s)(?!(?:final\s+)?answer\b)"
    r"([A-Za-z](?:(?!(?<=\s)(?:is|are|was|were|has|have|appears?|looks?|seems?|remains?)\s)[A-Za-z -]){1,40}?)"
    r"(?:\s*[:=]\s*|\s+[-\u2013\u2014]\s+|\s*->\s*)"
)
_VERDICT_END = r"(?=\s*(?:[.;,)]|$))"
_ANSWERED_NO = re.compile(_ANSWERED + r"(?:no|absent|negative)\b" + _VERDICT_END, re.I)
_ANSWERED_YES = re.compile(_ANSWERED + r"(?:yes|present|positive)\b" + _VERDICT_END, re.I)
# a full stop between two words with no space after it, the second capitalised ("effusion.Heart"), not an
# abbreviation or a decimal ("e.g.", "St.Jude", "2.5")
_GLUED_SENTENCE = re.compile(r"(?<=[a-z]{3})\.(?=[A-Z][a-z]{2})")


# "right" as an adverb ("right next to the effusion", "right at the carina", "right now"), which names no side
_RIGHT_ADVERB = re.compile(
    r"\bright\s+(?=(?:next\s+to|beside|behind|below|beneath|above|under|at|up|there|here|away|now|along|against|"
    r"where|into|through|alongside|adjacent)\b)",
    re.I,
)


def normalize_step(text: str) -> str:
    """Step text with contractions expanded, curly quotes straightened ("isn't" -> "is not"), sentences glued
    by a full stop without a space split ("effusion.Heart size is normal") and findings answered one by one read
    as statements ("Edema: no." -> "no Edema.", "Effusion = yes" -> "Effusion present"). Markdown is gone before
    this (`radprm.validators.steps.same_length_fixes`)."""
    if "." in text:
        # "No pleural effusion.Heart size is normal." (sentences glued in the source report) is two sentences
        text = _GLUED_SENTENCE.sub(". ", text)
    if "ight " in text:
        text = _RIGHT_ADVERB.sub("", text)  # "sits right next to the fluid": no side
    if _VERDICT_WORD.search(text):
        text = _ANSWERED_NO.sub(r"no \1", text)
        text = _ANSWERED_YES.sub(r"\1 present", text)
    if not _QUOTES.search(text):
        return text
    for pattern, repl in _CONTRACTIONS:
        text = pattern.sub(repl, text)
    return text


@dataclass(frozen=True)
class StepLanguage:
    """Compiled cue patterns of the `step_language` block of step_rules.json."""

    clause_breaks: re.Pattern[str]
    heading: re.Pattern[str]
    meta: re.Pattern[str]
    negation_pre: re.Pattern[str]
    negation_post: re.Pattern[str]
    negation_exceptions: re.Pattern[str]
    open_uncertainty: re.Pattern[str]
    hedges: dict[str, re.Pattern[str]]
    temporal: dict[str, re.Pattern[str]]
    temporal_compatible: dict[str, frozenset[str]]
    has_verb: re.Pattern[str]
    temporal_any: re.Pattern[str] = re.compile(r"(?!)")
    past: re.Pattern[str] = re.compile(r"(?!)")
    comparison: re.Pattern[str] = re.compile(r"(?!)")
    change_claim: re.Pattern[str] = re.compile(r"(?!)")
    # a report sentence that speaks of the thing as it was before without naming a change ("remains tortuous",
    # "continued slight cardiomegaly"): the report compares with an earlier exam
    continuation: re.Pattern[str] = re.compile(r"(?!)")
    omission: re.Pattern[str] = re.compile(r"(?!)")
    # a denial that leaves nothing open ("ruled out", "even a trace", "confidently excluded"), and the qualifiers of
    # a report's denial that do leave something open ("no large effusion", "no definite effusion")
    categorical_denial: re.Pattern[str] = re.compile(r"(?!)")
    limited_denial: frozenset[str] = frozenset()
    # attribute -> state -> pattern: "lung_volume": {"low": "Low lung volumes", "normal": "well expanded", ...}
    states: dict[str, dict[str, re.Pattern[str]]] = field(default_factory=dict)
    # the classes that move ("worsened", "improved", "resolved"): beside one of them a persistence word ("again
    # noted") only says the thing is seen again, so two moves are compared on their own
    temporal_moves: frozenset[str] = frozenset()


# A pattern in the step-language block: one regex, or a list of alternatives joined with "|".
Pattern = str | list[str]


class StepLanguageBlock(RuleModel):
    """The `step_language` block of step_rules.json, as written (compiled by `parse_step_language`)."""

    clause_breaks: Pattern
    heading: Pattern
    meta: Pattern
    negation_pre: Pattern
    negation_post: Pattern
    negation_exceptions: Pattern
    open_uncertainty: Pattern
    hedges: dict[str, Pattern]
    temporal: dict[str, Pattern]
    temporal_compatible: dict[str, list[str]]
    has_verb: Pattern
    past: Pattern
    comparison: Pattern = "(?!)"
    change_claim: Pattern = "(?!)"
    continuation: Pattern = "(?!)"
    omission: Pattern = "(?!)"
    categorical_denial: Pattern = "(?!)"
    limited_denial: list[str] = []
    states: dict[str, dict[str, Pattern]] = {}
    temporal_moves: list[str] = []


def _anchored(pattern: re.Pattern[str], words: int = 8) -> re.Pattern[str]:
    """`pattern` allowed to start within the first `words` words of the text (use with .match)."""
    return prefiltered(re.compile(rf"^\W*(?:[\w'-]+\W+){{0,{words}}}?(?:{pattern.pattern})", re.I))


def parse_step_language(data: StepLanguageBlock, path: str) -> StepLanguage:
    """Compile the `step_language` block (its keys are checked by `StepLanguageBlock`).

    Raises:
        RuleFileError: on bad patterns, unknown hedge strengths or temporal classes, naming file and key.
    """

    def rx(key: str, value: Pattern) -> re.Pattern[str]:
        if isinstance(value, list):
            value = "|".join(f"(?:{v})" for v in value)
        try:
            return prefiltered(re.compile(value, re.I))
        except re.error as exc:
            raise RuleFileError(f"bad pattern: {exc}", path=path, field=f"step_language.{key}") from exc

    unknown_strengths = set(data.hedges) - set(HEDGE_STRENGTHS)
    if unknown_strengths:
        raise RuleFileError(f"unknown hedge strength(s) {sorted(unknown_strengths)}; allowed: {HEDGE_STRENGTHS}",
                            path=path, field="step_language.hedges")
    temporal = {k: rx(f"temporal.{k}", v) for k, v in data.temporal.items()}
    compat = {k: frozenset(v) | {k} for k, v in data.temporal_compatible.items()}
    bad = {c for vs in compat.values() for c in vs} - set(temporal)
    unknown_moves = set(data.temporal_moves) - set(temporal)
    if unknown_moves:
        raise RuleFileError(f"temporal_moves names unknown class(es) {sorted(unknown_moves)}", path=path,
                            field="step_language.temporal_moves")
    if bad:
        raise RuleFileError(f"temporal_compatible names unknown class(es) {sorted(bad)}", path=path,
                            field="step_language.temporal_compatible")
    return StepLanguage(
        clause_breaks=rx("clause_breaks", data.clause_breaks),
        heading=rx("heading", data.heading),
        meta=rx("meta", data.meta),
        negation_pre=rx("negation_pre", data.negation_pre),
        negation_post=_anchored(rx("negation_post", data.negation_post)),
        negation_exceptions=rx("negation_exceptions", data.negation_exceptions),
        open_uncertainty=rx("open_uncertainty", data.open_uncertainty),
        hedges={k: rx(f"hedges.{k}", v) for k, v in data.hedges.items()},
        temporal=temporal,
        temporal_compatible=compat,
        has_verb=rx("has_verb", data.has_verb),
        past=rx("past", data.past),
        temporal_any=prefiltered(re.compile("|".join(f"(?P<{k}>{p.pattern})" for k, p in temporal.items()), re.I)),
        comparison=rx("comparison", data.comparison),
        change_claim=rx("change_claim", data.change_claim),
        continuation=rx("continuation", data.continuation),
        omission=rx("omission", data.omission),
        categorical_denial=rx("categorical_denial", data.categorical_denial),
        limited_denial=frozenset(w.lower() for w in data.limited_denial),
        states={
            attr: {state: rx(f"states.{attr}.{state}", p) for state, p in by_state.items()}
            for attr, by_state in data.states.items()
        },
        temporal_moves=frozenset(data.temporal_moves),
    )


@dataclass(frozen=True)
class Clause:
    """A clause of a step: its span in the normalised step text and its kind (fact / meta / heading)."""

    text: str
    start: int
    end: int
    kind: str = "fact"


_CLAUSE_CACHE: dict[tuple[int, str], list[Clause]] = text_cache()


def split_clauses(text: str, lang: StepLanguage) -> list[Clause]:
    """Cut a (normalised) step into clauses and classify each as fact, meta or heading (cached)."""
    key = (id(lang), text)
    cached = _CLAUSE_CACHE.get(key)
    if cached is None:
        cached = remember(_CLAUSE_CACHE, key, _split_clauses(text, lang), limit=50_000)
    return list(cached)


# a leading reason ends at its comma ("Since the impression says no active disease, emphysema is ruled out"):
# the denial inside it does not reach the clause after it
_LEADING_REASON = re.compile(
    r"^\W*(?:since|because|given\s+that)\s(?=[^,;:.]*?\b(?:no|not|nothing|without)\b)[^,;:.]{3,120}?(,\s+)(?=[a-z])",
    re.I,
)


def _split_clauses(text: str, lang: StepLanguage) -> list[Clause]:
    cuts = [0]
    spans = [m.span() for m in lang.clause_breaks.finditer(text)]
    if (lead := _LEADING_REASON.match(text)) is not None and not any(a < lead.end(1) and lead.start(1) < b
                                                                      for a, b in spans):
        spans = sorted([*spans, lead.span(1)])
    for a, b in spans:
        cuts.extend([a, b])
    cuts.append(len(text))
    clauses = []
    for i in range(0, len(cuts), 2):
        s, e = cuts[i], cuts[i + 1]
        piece = text[s:e]
        if not piece.strip():
            continue
        lead = len(piece) - len(piece.lstrip())
        clauses.append(Clause(piece.strip(), s + lead, s + lead + len(piece.strip())))
    clauses = _merge_continuations(clauses, text, lang)
    out: list[Clause] = []
    for i, c in enumerate(clauses):
        kind = "fact"
        if out and _DEFINES.match(c.text) and len(out[-1].text.split()) <= 4 \
                and not lang.has_verb.search(out[-1].text) and not _POINTER.match(out[-1].text):
            # "Cardiomegaly means an enlarged cardiac silhouette": a definition, cut at its verb
            out[-1] = Clause(out[-1].text, out[-1].start, out[-1].end, "meta")
            kind = "meta"
        elif _CONTRAST.match(c.text):
            kind = "contrast"  # "rather than an infiltrate": the reading set aside, judged only as a dismissal
        elif lang.meta.search(c.text):
            kind = "meta"
        elif i == 0 and len(clauses) > 1 and _is_label_break(text, c.end) and lang.heading.fullmatch(c.text) \
                and not lang.has_verb.search(c.text):
            kind = "heading"  # (not "There are two leads: one ... and one ...": a statement before its list)
        elif out and out[-1].kind == "meta" and _LIST_BREAK.search(text[out[-1].end:c.start]) \
                and not (_PRONOUN_FACT.match(c.text) or lang.has_verb.search(c.text)
                         and not _INDIRECT_QUESTION.match(c.text)):
            # "I'll check each option: edema, nodule and effusion", "Identify what the question asks: whether the
            # report supports pneumonia"; not "Let's start with the heart: it appears mildly enlarged" nor "I'll
            # start with lines and tubes: a right-sided central line is still in place"
            kind = "meta"
        elif out and out[-1].kind == "meta" and "," in text[out[-1].end:c.start] and not lang.has_verb.search(c.text):
            kind = "meta"  # "I'll look at the heart size, the vessels and the interstitium for signs of edema"
        elif out and out[-1].kind == "meta" and _REASON_FOR.match(c.text):
            kind = "meta"  # "In adults, aspirated material often goes to the right lower lobe, because the right main
            # bronchus is wider": the reason for a general statement is general too
        elif lang.past.search(c.text) and not lang.temporal_any.search(c.text) and not _NOW_GONE.search(c.text):
            kind = "past"  # "There was a small pneumothorax on the prior study": not about this film
        out.append(Clause(c.text, c.start, c.end, kind))
    return out


_DEFINES = re.compile(
    r"\W*(?:means|refers\s+to|is\s+defined\s+as)\s+(?:an?|the|(?:mild|slight|minimal|focal|diffuse|abnormal|increased|"
    r"decreased)\s+[\w-]+)\b",
    re.I,
)
_POINTER = re.compile(r"\W*(?:this|that|it|which|these|those|so)\b", re.I)  # ("This means ...": an inference)
_REASON_FOR = re.compile(r"\W*(?:because|since|as|given\s+that)\b", re.I)
# what a clause about the prior exam says of this one: "the catheter seen previously has been removed"
_NOW_GONE = re.compile(
    r"\b(?:has|have)\s+(?:since\s+|now\s+)?been\s+(?:removed|withdrawn|explanted|taken\s+out|exchanged|replaced)\b"
    # "The pneumothorax, previously large, is now small": the clause states what this film shows
    r"|\b(?:is|are)\s+now\b"
    # "Compared with the prior, the mediastinum is wider now"
    r"|\bnow\s*[.!;]?\s*$",
    re.I,
)


# a reading set aside ("rather than an infiltrate"), a thing added to the one before ("as well as nodes")
_CONTRAST = re.compile(r"rather\s+than\b", re.I)
_ADDED = re.compile(r"(?:along\s+with|as\s+well\s+as)\b", re.I)
_NEW_SUBJECT = re.compile(r"(?:(?:and|but|yet)\s+)?(?:the|there|this|these|that|those|it|its|only|i|we|in\s+keeping|"
                          # (an aside on what the thing before is: ", a common incidental finding in adults")
                          r"an?\s+(?:very\s+)?(?:common|frequent|typical|classic|usual|nonspecific|incidental|benign|expected)|"
                          r"consistent|compatible|suggesting|indicating|likely|probably|possibly)\b"
                          # ", but no pneumothorax": a denial of its own, not a tail of the affirmed clause before it
                          r"|(?:but|yet|though|although|while)\s+(?:no|not|without|none|nothing)\b|with\s+no(?:thing)?\b|without\b"
                          # ", although the scoliosis limits ...": a subject of its own after a concession
                          r"|(?:though|although|whereas)\s+(?:the|there|this|these|it|its|they|their)\b"
                          rf"|{_ADDED.pattern}|{_CONTRAST.pattern}"
                          # "with no opacity or effusion, and a stable granuloma": an affirmed thing after a denial
                          r"|and\s+(?:a|an|mild|mildly|minimal|slight|small|moderate|severe|marked|large|few|several|"
                          r"multiple|scattered|old|chronic|stable|calcified|degenerative)\b", re.I)
_PRONOUN_FACT = re.compile(r"(?:it|they|this|these|the\s+\w+)\s+(?:is|are|appears?|looks?|seems?|shows?)\b", re.I)
# "Identify what the question asks: whether the report supports pneumonia": the question, not a finding
_INDIRECT_QUESTION = re.compile(r"\W*(?:whether|if|what|which|how|where|why)\b", re.I)
_LIST_BREAK = re.compile(r"[:\u2014\u2013]|\s-{1,2}\s")


# a place phrase opening a step ("Above the diaphragm, the lungs show ...")
_PLACE_LEAD = re.compile(r"^\W*(?:above|below|under|beneath|behind|within|along|beyond|over|inside|in|at|on)\b", re.I)
# a comparison frame that opens the step ("Compared with before, the blunting looks more pronounced")
_FRAME_LEAD = re.compile(r"^\W*(?:(?:compared|relative)\s+(?:with|to)|in\s+comparison\s+(?:with|to)|since)\b", re.I)


def _merge_continuations(clauses: list[Clause], text: str, lang: StepLanguage) -> list[Clause]:
    """Glue verbless pieces back to the clause before them: list tails (", and effusions"), ", not X"; and a
    verbless place phrase or comparison frame that opens the step to the clause after it ("Above the diaphragm, the
    lungs ...", "Compared with the prior, the effusion is larger")."""
    lead = clauses[0].text if clauses else ""
    if len(clauses) > 1 and (_PLACE_LEAD.match(lead) or _FRAME_LEAD.match(lead)) and not lang.has_verb.search(lead) \
            and "," in text[clauses[0].end:clauses[1].start]:
        first, second = clauses[0], clauses[1]
        clauses = [Clause(text[first.start:second.end], first.start, second.end), *clauses[2:]]
    out: list[Clause] = []
    for c in clauses:
        gap = text[out[-1].end:c.start] if out else ""
        if out and "," in gap and ";" not in gap and ":" not in gap and not lang.has_verb.search(c.text) \
                and (not _NEW_SUBJECT.match(c.text) or _ADDED.match(c.text) and lang.negation_pre.search(out[-1].text)):
            # (", as well as effusion" after "It excludes pneumothorax" is the denial's list; after "osteophytes
            # along the lumbar spine" a thing of its own)
            prev = out[-1]
            out[-1] = Clause(text[prev.start:c.end], prev.start, c.end)
        elif (
            out
            and re.fullmatch(r"\s*,\s*", gap)
            and _LIST_HEAD.match(c.text)
            and not _NEW_SUBJECT.match(c.text)
            and not lang.has_verb.search(out[-1].text)
            and lang.has_verb.search(c.text)
            and "," in out[-1].text
        ):
            # a verbless list before its last item and their shared verb ("Pleural effusion, consolidation, and
            # pneumothorax are all explicitly negative"): one clause
            prev = out[-1]
            out[-1] = Clause(text[prev.start:c.end], prev.start, c.end)
        else:
            out.append(c)
    return out


_LIST_HEAD = re.compile(r"(?:and|or)\s+\w+(?:\s+\w+)?\s+(?:are|is|were|was)\b", re.I)


# the break after a leading "Nodule:" heading
LABEL_BREAK = re.compile(r"\s*(?::|\u2014|\u2013|-{1,2}\s)")


def _is_label_break(text: str, end: int) -> bool:
    return bool(LABEL_BREAK.match(text[end:end + 8]))  # (markup may leave spaces before the break: "**C) X** –")


def clause_of(clauses: list[Clause], start: int, end: int) -> Clause | None:
    """The clause holding the span [start, end) (the one it starts in)."""
    for c in clauses:
        if c.start <= start < c.end or (start < c.start < end):
            return c
    return None


def clause_polarity(clause: Clause, mention_start: int, mention_end: int, lang: StepLanguage) -> str | None:
    """How a clause asserts the mention at [mention_start, mention_end) (offsets into the step text).

    Returns:
        'uncertain' when the clause keeps it open ("cannot be excluded"), 'negative' when a negation
        cue precedes it (or sits inside the mention: "heart is not enlarged") or an absence cue
        follows it ("is not mentioned", "is out"), 'positive' when the only negation before it is a
        "without" whose phrase a verb ended ("nodes without consolidation fit old granulomatous disease"),
        otherwise None (the extractor decides).
    """
    text = clause.text
    rel_e = max(0, mention_end - clause.start)
    if lang.open_uncertainty.search(text):
        return "uncertain"
    if "either" in text:
        pair = _EITHER_OR.search(text)
        if pair and pair.start() <= mention_start - clause.start < pair.end():
            return "uncertain"  # "described as either atelectasis or early pneumonia": both kept open
    before = lang.negation_exceptions.sub(" ", text[:rel_e])
    # a negation does not reach past a comma into a new noun phrase ("no lung markings beyond it, a small
    # pneumothorax"; "says no acute disease, a large hernia is ...")
    cut = list(_NEW_PHRASE.finditer(before))
    if cut and not _LIST_END.search(text, cut[0].end()):
        # (not in a list the negation governs to its end: "I do not see X, a large effusion, or a pneumothorax")
        before = before[cut[-1].end() :]
    # a negation does not reach past "after" ("no pneumothorax after the catheter placement": the catheter is there)
    parts = _SCOPE_BREAK.split(before)
    before = parts[-1]
    # a denial the break kept from the mention leaves it affirmed ("since there is no edema, the effusion is
    # chronic"), where the extractor's own negation would reach past the comma
    broken = len(parts) > 1 and bool(lang.negation_pre.search("".join(p for p in parts[:-1] if p)))
    ended = next(reversed(list(_WITHOUT_ENDS.finditer(before))), None)  # the last "without" phrase a verb ends
    if ended is not None and _COMPARED.search(before, ended.end()):
        ended = None  # ("without new consolidation fits a chronic process better than an acute pneumonia")
    if ended is not None:
        # "without" denies its own noun phrase, not what the clause's verb says after it ("calcified nodes without
        # consolidation fit old granulomatous disease")
        before = before[ended.end() :]
    after = lang.negation_exceptions.sub(" ", text[rel_e:])
    if lang.negation_pre.search(before):
        return "negative"
    post = lang.negation_post.match(after)
    if post and _classifies(after, post, lang):
        post = None
    if post and not (_RELATIVE.search(post.group(0)) and _ATTRIBUTE_DENIED.match(after, post.end())):
        # (a relative clause denying an attribute describes the thing: "a nodule that is not calcified")
        return "negative"
    # a hedge after the mention counts unless it sits in a relative clause ("no effusion that could be
    # related to trauma")
    tail = _RELATIVE.split(after[:80], maxsplit=1)[0]
    if hedge_strength(text[:rel_e], lang) != "certain" or hedge_strength(tail, lang) in ("open", "possible"):
        return "uncertain"
    return "positive" if ended is not None or broken else None


# (nor past a verb that ends its denial: "the edema has resolved and the effusions are smaller", "the pneumothorax has
# resolved with the chest tube in place")
# what a denied thing would go with or sit on is not denied with it ("no pneumothorax accompanies the fracture", "no
# pneumothorax associated with the fracture", "nothing to suggest pneumonia on top of the edema"); shared by the
# claims' scopes here and the facts' scopes (`radprm.validators.sentences`)
DENIAL_LINKS = (
    r"\b(?:accompan(?:y|ies|ying))\b|(?<!\bis\s)(?<!\bare\s)(?<!\bbe\s)(?<!\bneither\s)(?<!\bnot\s)"
    r"\b(?:associated\s+with|related\s+to|secondary\s+to|caused\s+by)\b"
    r"|\b(?:on\s+top\s+of|superimposed\s+(?:on|upon))\b"
)
_SCOPE_BREAK = re.compile(
    r"\b(?:after|following)\b|\b(?:resolved|cleared|removed|gone),?\s+(?:and|with|while|leaving)\b"
    # (nor past the consequence or the reason it is given for: "no edema, so the effusion is chronic", "since there is
    # no edema, the effusion ...")
    r"|,\s*(?:so|therefore|thus|hence|which\s+means|meaning)\b|^\W*(?:since|because|given\s+that)\b[^,;]*,"
    # (nor past a "with" phrase coordinated after it: "without mediastinal shift, and with only a small pneumothorax")
    r"|\band\s+with\b(?!\s+(?:no|nothing|none|its|their)\b)"
    r"|,\s*with\s+(?!(?:no|nothing|none|its|their|his|her|the\s+exception)\b)"
    rf"|{DENIAL_LINKS}",
    re.I,
)
_NEW_PHRASE = re.compile(
    r",\s+(?:a|an)\s+(?=(?:trace|tiny|small|minimal|mild|moderate|large|severe|massive|big|new|sizable)\b)", re.I
)
_LIST_END = re.compile(r"(?:,\s*|\s+)(?:or|nor)\s+(?:an?\s+)?\w+[^,;]*$", re.I)
_ATTRIBUTE_DENIED = re.compile(r"\s+(?!(?:seen|present|visible|identified|evident|noted|apparent|demonstrated|detected|"
                                r"appreciated|found|shown|there|mentioned|described|reported)\b)[a-z]+(?:ed|al|ic|ive)\b",
                                re.I)
_RELATIVE = re.compile(r"\b(?:that|which|who|whom|whose|where)\b", re.I)
# "is not an aneurysm": what the thing is not ("is not a concern" still denies it)
_CLASSIFIED = re.compile(
    r"\s+an?\s+(?!(?:concern|feature|finding|problem|issue|factor|sign|consideration|worry)\b)"
    # what the thing does not reflect or come from ("the effusion is not likely to reflect decompensation")
    r"|\s+(?:likely\s+|necessarily\s+)?(?:to\s+)?(?:reflect|represent|indicate|signify|mean|suggest|imply|"
    r"be\s+(?:due|related|secondary)\s+to|due\s+to|related\s+to|secondary\s+to|caused\s+by)\b"
    # (what kind it is not: "the pneumothorax is not under tension")
    r"|\s+(?:under\s+|in\s+)?tension\b"
    # (what picture it is not part of: "the effusion is not part of a failure picture")
    r"|\s+(?:a\s+)?part\s+of\b"
    # (what it is not by itself: "pleural plaques are not by themselves asbestosis")
    r"|\s+(?:by\s+(?:themselves|itself)|in\s+(?:themselves|itself))\b",
    re.I,
)
_WITHOUT_ENDS = re.compile(
    # (not "without consolidation to suggest pneumonia", "... that would suggest", "... do not indicate")
    # (a clause that opens on a denial reads the same: "Absent callus and sharp margins indicate these are acute")
    r"(?:\bwithout|^\W*(?:absent|absence\s+of|no))\s+[^,;]*?(?<!\bto\s)(?<!\bwould\s)(?<!\bcould\s)(?<!\bthat\s)"
    r"(?<!\bnot\s)(?<!n't\s)"
    r"\b(?:fits?|suggests?|indicates?|favou?rs?|represents?|points?|argues?|is|are|was|were|"
    r"makes?|means?|supports?|looks?|appears?|seems?|goes|go|reflects?|implies|corresponds?)\b",
    re.I,
)
_COMPARED = re.compile(r"\bthan\b", re.I)
_WITHOUT_NEXT = re.compile(r"\W*(?:\w+\s+)?without\b", re.I)


_EITHER_OR = re.compile(
    r"\beither\s+(?!(?:side|sides|lung|hemithorax|the\s+left|the\s+right|left|right)\b)[\w\s-]{1,50}?\s+or\s+"
    r"[\w-]+(?:\s+[\w-]+){0,3}",
    re.I,
)
_REASON_PART = re.compile(r"^\W*(?:since|because|given\s+that|now\s+that)\b[^,;]*,", re.I)


def reason_part(clause: Clause, mention_end: int) -> Clause | None:
    """The leading reason of a clause when the mention is in it ("Since the valve is in the aortic position," of
    "..., option C is not present"): what the clause goes on to deny is not the reason's thing."""
    m = _REASON_PART.match(clause.text)
    if m is None or mention_end - clause.start > m.end() or not clause.text[m.end():].strip(" .;"):
        return None
    return Clause(clause.text[: m.end()], clause.start, clause.start + m.end(), clause.kind)


# where the thing was seen before, between it and what is said of it now
_SEEN_BEFORE = re.compile(
    r"\W*(?:(?:that|which)\s+(?:was|were)\s+)?(?:seen|noted|described|present|visible|identified|demonstrated)\s+"
    r"(?:previously\s+|before\s+)?(?:on|in)\s+(?:the\s+)?(?:previous|prior|earlier|last|preceding|recent)\s+"
    r"(?:[\w-]+\s+){0,2}?(?:film|study|exam|examination|radiograph|x-?ray|image|images|ct)\b"
    r"|\W*(?:seen|noted|described)\s+(?:previously|before|earlier)\b",
    re.I,
)


def negation_near_after(clause: Clause, mention_end: int, lang: StepLanguage, words: int = 4) -> bool:
    """A negation word within a few words after the mention ("the pleural spaces have no effusion")."""
    after = clause.text[max(0, mention_end - clause.start):]
    seen_before = _SEEN_BEFORE.match(after)
    if seen_before:
        after = after[seen_before.end():]  # "the PICC seen on the previous AP film is no longer present"
    if _WITHOUT_NEXT.match(after):
        return False  # "cardiomegaly without heart failure": the cue negates what follows it
    # (the exceptions are read before the cut: "none of which is acute" denies an attribute past the window)
    head = " ".join(lang.negation_exceptions.sub(" ", after).split()[:words])
    if not lang.negation_pre.search(head):
        return False
    post = lang.negation_post.match(after)
    return not (post and _classifies(after, post, lang))


def _classifies(after: str, post: re.Match[str], lang: StepLanguage) -> bool:
    """Whether a denial after the mention says what the thing is not or does not reflect ("tortuosity alone is not
    an aneurysm", "the effusion is not likely to reflect decompensation"), not whether it is there ("is not a
    concern" is glue and stays a denial)."""
    return bool(_CLASSIFIED.match(after, post.end())) and not lang.meta.search(after[post.end():])


_T = TypeVar("_T")


def _cached_by_text(func: Callable[[str, StepLanguage], _T]) -> Callable[[str, StepLanguage], _T]:
    """Cache a pure reading of a text (per rule set): steps restate report sentences, and a report's
    sentences are read again for every step and claim that cites them. Emptied by `clear_text_caches`."""
    cache: dict[tuple[int, str], tuple[StepLanguage, _T]] = text_cache()

    @functools.wraps(func)
    def cached(text: str, lang: StepLanguage) -> _T:
        key = (id(lang), text)
        hit = cache.get(key)
        if hit is None or hit[0] is not lang:  # the entry holds `lang`: its id cannot be reused meanwhile
            hit = remember(cache, key, (lang, func(text, lang)))
        return hit[1]

    return cached


@_cached_by_text
def hedge_strength(text: str, lang: StepLanguage) -> str:
    """The strongest-matching hedge class of a text: open, possible, probable, else certain."""
    for strength in ("open", "possible", "probable"):
        pattern = lang.hedges.get(strength)
        if pattern is not None and pattern.search(text):
            return strength
    return "certain"


@_cached_by_text
def temporal_classes(text: str, lang: StepLanguage) -> frozenset[str]:
    """Change-over-time classes a text states ('new', 'unchanged', 'increased', ...)."""
    # only the classes that can match here: a class that matches nowhere in the text changes no match of the
    # alternation (it fails at every position), so the smaller alternation finds the same matches
    rx = lang.temporal_any
    if _joins_temporal(lang):
        if not group_gate(lang, "temporal", lang.temporal.values())(text):
            return frozenset()  # (one needle check for all the classes: none can match)
        possible = tuple(k for k, p in lang.temporal.items() if can_match(p, text))
        if not possible:
            return frozenset()
        rx = _temporal_any(lang, possible)
    found = {m.lastgroup for m in rx.finditer(text)}
    if len(found) > 1 or not found:
        return frozenset(found)
    # a class can hide behind another's match at the same place: confirm with the separate patterns
    return frozenset(k for k, p in lang.temporal.items() if k in found or p.search(text))


_TEMPORAL_SUBSETS: dict[tuple[str, tuple[str, ...]], re.Pattern[str]] = {}
_JOINED: dict[int, tuple[StepLanguage, bool]] = {}


def _joins_temporal(lang: StepLanguage) -> bool:
    """Whether `lang.temporal_any` is the alternation of `lang.temporal` (as `parse_step_language` builds it),
    so that a subset of the classes can stand for it (checked once per rule set)."""
    hit = _JOINED.get(id(lang))
    if hit is None or hit[0] is not lang:  # the entry holds `lang`: its id cannot be reused meanwhile
        joined = "|".join(f"(?P<{k}>{p.pattern})" for k, p in lang.temporal.items())
        same = joined == lang.temporal_any.pattern and lang.temporal_any.flags == re.compile("", re.I).flags
        hit = _JOINED[id(lang)] = (lang, same)
    return hit[1]


def _temporal_any(lang: StepLanguage, classes: tuple[str, ...]) -> re.Pattern[str]:
    """`lang.temporal_any` restricted to `classes` (in rule order; compiled once per subset)."""
    if len(classes) == len(lang.temporal):
        return lang.temporal_any
    key = (lang.temporal_any.pattern, classes)
    rx = _TEMPORAL_SUBSETS.get(key)
    if rx is None:
        rx = _TEMPORAL_SUBSETS[key] = re.compile(
            "|".join(f"(?P<{k}>{lang.temporal[k].pattern})" for k in classes), re.I
        )
    return rx


# the change-over-time class of "age-indeterminate" (step_rules.json `temporal.indeterminate`)
AGE_UNKNOWN = "indeterminate"


_AGES = frozenset({"acute", "chronic"})


def temporal_conflict(step: frozenset[str], report: frozenset[str], lang: StepLanguage) -> bool:
    """True when the step states a change the report's statement is incompatible with."""
    # "age-indeterminate" only denies an age ("acute", "old"): beside a change the report states, or in the
    # step itself ("age indeterminate, so probably unchanged"), it decides nothing
    if AGE_UNKNOWN in step:
        # and a step that calls the thing age-indeterminate itself qualifies its own "acute" or "old"
        step = frozenset(c for c in step - {AGE_UNKNOWN} if AGE_UNKNOWN in lang.temporal_compatible.get(c, ()))
    if step & {"increased", "decreased"} and "unchanged" not in report:
        step -= {"unchanged"}  # "persists but is smaller than before": still there, and smaller
    if AGE_UNKNOWN in report and step & _AGES and not report & _AGES:
        return True  # an age the report leaves undetermined ("the T12 compression fracture is acute")
    report = report - {AGE_UNKNOWN} or report
    if not step or not report:
        return False
    if not any(report & lang.temporal_compatible.get(s, frozenset({s})) for s in step):
        return True
    # "again noted and worsened" against "again noted, improved": the moves disagree
    step_moves, report_moves = step & lang.temporal_moves, report & lang.temporal_moves
    return bool(step_moves and report_moves) and not any(
        report_moves & lang.temporal_compatible.get(s, frozenset({s})) for s in step_moves
    )
