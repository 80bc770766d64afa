"""Regex prefilters: skip a pattern on a text that cannot hold any of its required words.

The step rules are long alternations of cue phrases ("meta" alone has some forty alternatives, the
change-over-time classes several hundred words); Python's `re` tries each at every position, about
10-50 µs per clause, and most clauses match none of them. `prefiltered(pattern)` reads the
pattern's syntax tree once and derives *needles*: literal pieces, at least one of which appears in
every text the pattern can match (a run of literal characters, with a space on a side where the
pattern guarantees a word boundary: `\\bif\\b` needs " if " in the text read as lower-case words).
The returned object behaves like the compiled pattern and answers "no match" at once when no needle
occurs in the text; otherwise, and for non-ASCII text, it runs the pattern itself. Results are
therefore those of the pattern, whatever it is: the needles are a necessary condition, never a
guess. A pattern with no usable needles (one that can match without a literal) is returned as is.
"""

from __future__ import annotations

import re
import re._constants as sre
import re._parser as sre_parse
from collections.abc import Iterable, Iterator
from typing import Any

# ASCII text read as lower-case words: letters lower-cased, digits and "_" kept, everything else a space
_WORD_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_")
_TABLE = bytes(
    (c + 32 if 65 <= c <= 90 else c if c in _WORD_BYTES else 32) if c < 128 else 32 for c in range(256)
)
_SEPARATOR_CATEGORIES = frozenset({sre.CATEGORY_SPACE, sre.CATEGORY_NOT_WORD})
_BEGIN = frozenset({sre.AT_BEGINNING, sre.AT_BEGINNING_STRING, sre.AT_BEGINNING_LINE})
_END = frozenset({sre.AT_END, sre.AT_END_STRING, sre.AT_END_LINE})
_REPEATS = frozenset({sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT})

# what an item guarantees next to it: a non-word character (or the text's edge) whatever the neighbour
# is ("any"), or only when the neighbouring character is a word character ("word": \b)
_ANY, _WORD = "any", "word"


def _is_word_byte(c: int) -> bool:
    return c in _WORD_BYTES


def _nonword_class(av: list) -> bool:
    """A character class every ASCII member of which is a non-word character (\\s, \\W, [:;,])."""
    for op, value in av:
        if op is sre.CATEGORY and value in _SEPARATOR_CATEGORIES:
            continue
        if op is sre.LITERAL and value < 128 and not _is_word_byte(_TABLE[value]):
            continue
        return False
    return bool(av)


_STRENGTH = {None: 0, _WORD: 1, _ANY: 2}


def _weakest(*kinds: str | None) -> str | None:
    return min(kinds, key=_STRENGTH.__getitem__)


def _edge(items: list, incoming: str | None, forward: bool) -> str | None:
    """What a sequence guarantees at its far edge, given `incoming` at its near edge.

    Forward: about the character just before what follows the sequence (its last character, or
    `incoming` when it may match nothing); backward: about the character just after what precedes it.
    """
    for op, av in (items if forward else reversed(items)):
        incoming = _edge_of(op, av, incoming, forward)
    return incoming


def _edge_of(op: Any, av: Any, incoming: str | None, forward: bool) -> str | None:
    """`_edge` of one item."""
    if op is sre.LITERAL:
        return _ANY if av < 128 and not _is_word_byte(_TABLE[av]) else None
    if op is sre.IN:
        return _ANY if _nonword_class(av) else None
    if op is sre.AT:
        if av is sre.AT_BOUNDARY:
            return _ANY if incoming == _ANY else _WORD
        if (av in _BEGIN) if forward else (av in _END):
            return _ANY
        return incoming  # zero width: the neighbour is the one beyond
    if op in (sre.ASSERT, sre.ASSERT_NOT):
        return incoming
    if op is sre.SUBPATTERN:
        return _edge(av[3], incoming, forward)
    if op is sre.ATOMIC_GROUP:
        return _edge(av, incoming, forward)
    if op is sre.BRANCH:
        return _weakest(*(_edge(alternative, incoming, forward) for alternative in av[1]))
    if op in _REPEATS:
        low, high, inner = av
        if high == 0:
            return incoming
        # the last repetition follows either `incoming` or an earlier repetition (no weaker than nothing known)
        kind = _weakest(_edge(inner, incoming, forward), _edge(inner, None, forward))
        return _weakest(kind, incoming) if low == 0 else kind
    return None


def _best(candidates: list[frozenset[bytes]]) -> frozenset[bytes] | None:
    """The most selective needle set: the longest shortest needle, then the fewest needles."""
    if not candidates:
        return None
    return max(candidates, key=lambda s: (min(len(n) for n in s), -len(s)))


def _needles(items: list, left: str | None, right: str | None) -> frozenset[bytes] | None:
    """Needles of a parsed sequence; `left`/`right`: what the items around the sequence guarantee."""
    items = list(items)
    n = len(items)
    # what each item has on either side: a non-word character (or the text's edge), or one when the item's
    # own character there is a word character (\b); items that may match nothing pass on what lies beyond
    before: list[str | None] = [None] * n
    kind = left
    for j in range(n):
        before[j] = kind
        kind = _edge_of(*items[j], kind, True)
    after: list[str | None] = [None] * n
    kind = right
    for j in range(n - 1, -1, -1):
        after[j] = kind
        kind = _edge_of(*items[j], kind, False)
    candidates: list[frozenset[bytes]] = []
    run = bytearray()
    run_left: str | None = None

    def flush(right_side: str | None) -> None:
        if not run:
            return
        needle = bytes(run)
        run.clear()
        if not needle.strip():
            return  # only separators (";", ", "): any text has spaces
        if run_left == _ANY or (run_left == _WORD and _is_word_byte(needle[0])):
            needle = b" " + needle
        if right_side == _ANY or (right_side == _WORD and _is_word_byte(needle[-1])):
            needle = needle + b" "
        candidates.append(frozenset({needle}))

    for i, (op, av) in enumerate(items):
        if op is sre.LITERAL and av < 128:
            if not run:
                run_left = before[i]
            run.append(_TABLE[av])
            if i + 1 == n or items[i + 1][0] is not sre.LITERAL or items[i + 1][1] >= 128:
                flush(after[i])
            continue
        if op is sre.SUBPATTERN:
            # case flags do not matter: needles and text are both compared in lower case
            found = _needles(av[3], before[i], after[i])
        elif op is sre.ATOMIC_GROUP:
            found = _needles(av, before[i], after[i])
        elif op is sre.BRANCH:
            union: set[bytes] = set()
            for alternative in av[1]:
                part = _needles(alternative, before[i], after[i])
                if part is None:
                    union = set()
                    break
                union |= part
            found = frozenset(union) if union else None
        elif op in _REPEATS and av[0] >= 1:
            found = _needles(av[2], None, None)
        elif op is sre.ASSERT:
            # a lookahead's text starts where the item before ends; a lookbehind's ends where the next begins
            direction, sub = av
            found = _needles(sub, before[i], None) if direction == 1 else _needles(sub, None, after[i])
        else:
            found = None
        if found:
            candidates.append(found)
    return _best(candidates)


# the last text read and its words (one tuple, replaced whole: safe across threads): a clause is tried
# against many patterns in a row
_last: tuple[str | None, bytes] = (None, b"")


def _words(text: str) -> bytes:
    """An ASCII text as needles are looked for in it: b" " + its lower-case words + b" "."""
    global _last
    last = _last
    if last[0] is text:
        return last[1]
    words = b" " + text.encode("ascii").translate(_TABLE) + b" "
    _last = (text, words)
    return words


def _trie(needles: frozenset[bytes]) -> re.Pattern[bytes]:
    """One pattern finding any of the (ASCII) needles: a trie of literals, so `re` skips a failing branch on
    its first byte instead of trying every needle at every position."""
    return re.compile(_trie_source(n.decode("ascii") for n in needles).encode("ascii"))


def _trie_source(words: Iterable[str]) -> str:
    """The source of a trie pattern of `words` ("" for none)."""
    root: dict = {}
    for word in sorted(set(words), key=len):
        node = root
        for ch in word:
            if node.get(None):
                break  # a shorter word is already a prefix: this one adds nothing
            node = node.setdefault(ch, {})
        else:
            node.clear()
            node[None] = True

    def emit(node: dict) -> str:
        branches = [re.escape(ch) + emit(child) for ch, child in sorted((k, v) for k, v in node.items() if k)]
        if not branches:
            return ""
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return emit(root)


class Prefiltered:
    """A compiled pattern that answers "no match" at once for an ASCII text without any of its needles.

    `rest`, when given, is the pattern without its top-level alternatives that have needles (the ones
    that cannot match a text without them): it answers for such texts, with the same matches.
    """

    __slots__ = ("_rx", "_fallback", "_finder", "needles", "pattern", "flags", "groups", "groupindex")

    def __init__(self, rx: re.Pattern[str], needles: frozenset[bytes], rest: re.Pattern[str] | None = None) -> None:
        self._rx = rx
        self._fallback = rest
        self.needles = needles
        self._finder = _trie(needles)
        self.pattern, self.flags, self.groups, self.groupindex = rx.pattern, rx.flags, rx.groups, rx.groupindex

    def possible(self, text: str) -> bool:
        """False when no needle occurs in `text` (its alternatives with needles cannot match it)."""
        return not text.isascii() or self._finder.search(_words(text)) is not None

    def can_match(self, text: str) -> bool:
        """False when the pattern cannot match anywhere in `text`: no needle there, and the alternatives
        without needles (if any) do not match it either."""
        return self.possible(text) or (self._fallback is not None and self._fallback.search(text) is not None)

    def _for(self, text: str) -> re.Pattern[str] | None:
        """The pattern to run on `text`: the whole one, the rest without the needled alternatives, or none."""
        if text.isascii():
            last = _last
            if self._finder.search(last[1] if last[0] is text else _words(text)) is None:
                return self._fallback
        return self._rx

    # the hot methods repeat `_for` inline: these are called some seventy times per step

    def search(self, string: str, *args: int) -> re.Match[str] | None:  # noqa: D102
        if not args and string.isascii():
            last = _last
            if self._finder.search(last[1] if last[0] is string else _words(string)) is None:
                return None if self._fallback is None else self._fallback.search(string)
        return self._rx.search(string, *args)

    def finditer(self, string: str, *args: int) -> Iterator[re.Match[str]]:  # noqa: D102
        if not args and string.isascii():
            last = _last
            if self._finder.search(last[1] if last[0] is string else _words(string)) is None:
                return iter(()) if self._fallback is None else self._fallback.finditer(string)
        return self._rx.finditer(string, *args)

    def sub(self, repl: Any, string: str, count: int = 0) -> str:  # noqa: D102
        if string.isascii():
            last = _last
            if self._finder.search(last[1] if last[0] is string else _words(string)) is None:
                return string if self._fallback is None else self._fallback.sub(repl, string, count)
        return self._rx.sub(repl, string, count)

    def match(self, string: str, *args: int) -> re.Match[str] | None:  # noqa: D102
        rx = self._rx if args else self._for(string)
        return None if rx is None else rx.match(string, *args)

    def fullmatch(self, string: str, *args: int) -> re.Match[str] | None:  # noqa: D102
        rx = self._rx if args else self._for(string)
        return None if rx is None else rx.fullmatch(string, *args)

    def findall(self, string: str, *args: int) -> list[Any]:  # noqa: D102
        rx = self._rx if args else self._for(string)
        return [] if rx is None else rx.findall(string, *args)

    def subn(self, repl: Any, string: str, count: int = 0) -> tuple[str, int]:  # noqa: D102
        rx = self._for(string)
        return (string, 0) if rx is None else rx.subn(repl, string, count)

    def split(self, string: str, maxsplit: int = 0) -> list[str]:  # noqa: D102
        rx = self._for(string)
        return [string] if rx is None else rx.split(string, maxsplit)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)  # (slots not set yet: never delegate private names)
        return getattr(self._rx, name)

    def __eq__(self, other: object) -> bool:
        return self._rx == (other._rx if isinstance(other, Prefiltered) else other)

    def __hash__(self) -> int:
        return hash(self._rx)

    def __reduce__(self) -> tuple:
        return Prefiltered, (self._rx, self.needles, self._fallback)

    def __repr__(self) -> str:
        return f"prefiltered({self._rx!r})"


def _top_alternatives(pattern: str) -> list[str]:
    """`pattern` split at its top-level "|" (a whole-pattern "(?:...)" is opened first)."""
    while True:
        parts, depth, start, i, in_class, class_start = [], 0, 0, 0, False, 0
        wrapped = pattern.startswith("(?:")
        while i < len(pattern):
            ch = pattern[i]
            if ch == "\\":
                i += 2
                continue
            if in_class:
                in_class = ch != "]" or i == class_start
            elif ch == "[":
                in_class, class_start = True, i + 1 + (pattern[i + 1 : i + 2] == "^")
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth == 0 and i < len(pattern) - 1:
                    wrapped = False
            elif ch == "|" and depth == 0:
                parts.append(pattern[start:i])
                start = i + 1
            i += 1
        parts.append(pattern[start:])
        if len(parts) == 1 and wrapped and pattern.endswith(")"):
            pattern = pattern[3:-1]  # "(?:a|b)": split inside
            continue
        return parts


def can_match(rx: re.Pattern[str], text: str) -> bool:
    """False when `rx` cannot match anywhere in `text` (a prefiltered pattern without its needles there)."""
    return not isinstance(rx, Prefiltered) or rx.can_match(text)


def needles_of(rx: re.Pattern[str]) -> frozenset[bytes] | None:
    """The needles of a compiled pattern (None when it can match without any literal)."""
    # (verbose whitespace and comments are gone once parsed; the needles hold none of them)
    return _needles(list(sre_parse.parse(rx.pattern, rx.flags)), None, None)


def prefiltered(rx: re.Pattern[str]) -> re.Pattern[str]:
    """`rx` behind a needle prefilter (the same results, faster on texts without its cue words); `rx`
    itself when no part of it has needles or it is not a text pattern.

    When only some top-level alternatives have needles (and the pattern captures no groups), a text
    without their needles is matched against the other alternatives alone: an alternative that cannot
    match anywhere in the text changes no match of the whole.
    """
    if isinstance(rx, Prefiltered) or not isinstance(rx.pattern, str):
        return rx
    needles = needles_of(rx)
    if needles:
        return Prefiltered(rx, needles)  # type: ignore[return-value]
    if rx.groups or re.match(r"\(\?[aiLmsux]+\)", rx.pattern):
        return rx
    needled: set[bytes] = set()
    rest = []
    for alternative in _top_alternatives(rx.pattern):
        try:
            found = needles_of(re.compile(alternative, rx.flags))
        except re.error:
            return rx  # not split where the pattern is (a bracket the scanner misread)
        if found:
            needled |= found
        else:
            rest.append(alternative)
    if not needled or not rest:
        return rx
    return Prefiltered(rx, frozenset(needled), re.compile("|".join(rest), rx.flags))  # type: ignore[return-value]


class Gate:
    """One needle check for a group of patterns: false when no pattern of the group can match a text.

    Each pattern must be prefiltered without a fallback (its needles are a necessary condition for any match);
    a group with another pattern is always open. A closed gate lets a caller skip the whole group (the
    matches, substitutions and splits of every pattern in it are the ones of a text without matches).
    """

    __slots__ = ("_open", "_every")

    def __init__(self, patterns: Iterable[re.Pattern[str]]) -> None:
        patterns = list(patterns)
        self._open = not all(isinstance(p, Prefiltered) and p._fallback is None for p in patterns)
        needles = frozenset().union(*(p.needles for p in patterns)) if not self._open else frozenset()
        self._every = _trie(needles) if needles else None

    def __call__(self, text: str) -> bool:
        """Whether some pattern of the group may match `text` (always true for non-ASCII text)."""
        if self._open or not text.isascii():
            return True
        if self._every is None:
            return False
        last = _last
        return self._every.search(last[1] if last[0] is text else _words(text)) is not None


_GATES: dict[tuple[int, str], tuple[object, Gate]] = {}


def group_gate(owner: object, name: str, patterns: Iterable[re.Pattern[str]]) -> Gate:
    """The `Gate` of a group of patterns a rule object holds (`name` tells its groups apart), built on first use
    and kept with the object (the entry holds it: its id cannot be reused meanwhile)."""
    key = (id(owner), name)
    hit = _GATES.get(key)
    if hit is None or hit[0] is not owner:
        if len(_GATES) > 1_000:
            _GATES.clear()
        hit = _GATES[key] = (owner, Gate(patterns))
    return hit[1]


def literals(words: Iterable[str]) -> re.Pattern[str]:
    """One pattern finding any of `words` (plain strings) anywhere in a text, e.g. inside another word: a
    trie, so `re` rejects a position on its first character instead of trying every word there."""
    return re.compile(_trie_source(words) or "(?!)")
