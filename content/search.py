"""Pinyin sorting and the catalog's search index.

Residents type Chinese (居住证), full pinyin (juzhuzheng), initials (jzz), a mix (juzz),
English (residence permit) or a bureau (流管, liuguan); small typos are forgiven where it is
cheap to do so. Everything is precomputed once per catalog, so a query is a scan over a few
hundred short strings: fast enough for the kiosk's search-as-you-type.

pypinyin (its tables cost about a quarter of a second to import) is imported on the first call
that needs a reading, not with this module: a server validating its hall's services against the
catalog, or a kiosk drawing its first frame, never pays for it.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from content.schema import Bureau, Service

_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[a-z0-9]+")
_STOP_EN = {"a", "an", "and", "for", "of", "the", "to", "in", "on", "or", "with"}


def normalize(text: str) -> str:
    """NFKC (full-width letters to ASCII), lower case, trimmed."""
    return unicodedata.normalize("NFKC", text).lower().strip()


@lru_cache(maxsize=4096)
def syllables(text: str) -> tuple[str, ...]:
    """Toneless pinyin of the Chinese characters in ``text``; other characters are dropped."""
    from pypinyin import Style, lazy_pinyin

    out: list[str] = []
    for item in lazy_pinyin(text, style=Style.NORMAL, errors="ignore", v_to_u=False):
        item = normalize(item)
        if item.isalpha() and item.isascii():
            out.append(item)
    return tuple(out)


def pinyin_key(text: str) -> tuple:
    """Sort key putting Chinese text in pinyin order (then tone, then the character itself)."""
    from pypinyin import Style, lazy_pinyin

    key = []
    for ch in text:
        if _CJK.match(ch):
            [tone3] = lazy_pinyin(ch, style=Style.TONE3, neutral_tone_with_five=True)
            key.append((tone3.rstrip("012345"), tone3[-1:] if tone3[-1:].isdigit() else "5", ch))
        else:
            key.append((normalize(ch), "", ch))
    return tuple(key)


def sort_by_pinyin(items: Iterable, key=lambda item: item) -> list:
    """``items`` sorted by the pinyin of ``key(item)``."""
    return sorted(items, key=lambda item: pinyin_key(key(item)))


def matches_syllables(query: str, sylls: Sequence[str]) -> tuple[int, int] | None:
    """Does ``query`` spell consecutive syllables, each by a non-empty prefix?

    "jzz", "juzhuzheng", "juzz" and "zhuzheng" all match 居住证. Returns (first syllable,
    number of syllables typed out in full) for the best match, or None.
    """
    best: tuple[int, int] | None = None
    for start in range(len(sylls)):
        if not sylls[start].startswith(query[0]):
            continue
        full = _spell(query, sylls, start)
        if full is not None and (best is None or (full, -start) > (best[1], -best[0])):
            best = (start, full)
    return best


def spells_whole(query: str, sylls: Sequence[str]) -> bool:
    """Does ``query`` spell all of ``sylls``, each by a non-empty prefix ("jzz", "juzz")?"""
    return bool(sylls) and _spell(query, sylls, 0, to_end=True) is not None


def _spell(query: str, sylls: Sequence[str], i: int, *, to_end: bool = False) -> int | None:
    # Depth-first over the split points; names are short, so this stays tiny.
    if not query:
        return 0 if not to_end or i == len(sylls) else None
    if i >= len(sylls):
        return None
    syl = sylls[i]
    best = None
    for n in range(min(len(syl), len(query)), 0, -1):
        if syl[:n] != query[:n]:
            continue
        rest = _spell(query[n:], sylls, i + 1, to_end=to_end)
        if rest is not None:
            score = rest + (n == len(syl))
            best = score if best is None else max(best, score)
    return best


def within_one_edit(a: str, b: str) -> bool:
    """True when a and b differ by at most one insertion, deletion, substitution or swap."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la == lb:
        diff = [i for i in range(la) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and (a[diff[1]] == b[diff[0]])
        )
    if la > lb:
        a, b = b, a
    return any(a == b[:i] + b[i + 1 :] for i in range(len(b)))


@dataclass
class _Entry:
    service: Service
    zh_names: list[str]  # name and keywords
    zh_text: str  # description and bureau names, for weak matches
    pinyin: list[tuple[str, ...]]  # syllables of every Chinese name
    en_words: list[str]  # words of the English name and English keywords
    en_name: str
    en_text: str  # English description
    sort_key: tuple = ()
    bureau_terms: set[str] = field(default_factory=set)


class SearchIndex:
    """Ranked search over a catalog's services."""

    def __init__(self, services: Iterable[Service], bureaus: dict[str, Bureau]) -> None:
        self._entries: list[_Entry] = []
        for service in services:
            bureau = bureaus[service.bureau]
            zh_keywords = [k for k in service.keywords if _CJK.search(k)]
            en_keywords = [normalize(k) for k in service.keywords if not _CJK.search(k)]
            zh_names = [service.name_zh, *zh_keywords]
            en_name = normalize(service.name_en)
            self._entries.append(
                _Entry(
                    service=service,
                    zh_names=zh_names,
                    zh_text=service.description.zh,
                    pinyin=[syllables(n) for n in zh_names],
                    en_words=_WORD.findall(" ".join([en_name, *en_keywords])),
                    en_name=" ".join([en_name, *en_keywords]),
                    en_text=normalize(service.description.en),
                    sort_key=pinyin_key(service.name_zh),
                    bureau_terms={
                        bureau.code,
                        bureau.short_zh,
                        normalize(bureau.name_zh),
                        normalize(bureau.name_en),
                        "".join(syllables(bureau.short_zh)),
                        "".join(syl[0] for syl in syllables(bureau.short_zh)),
                    },
                )
            )

    def search(self, text: str, *, lang: str | None = None, limit: int = 20) -> list[Service]:
        query = normalize(text)
        if not query or limit <= 0:
            return []
        scored = []
        for entry in self._entries:
            score = self._score(entry, query, lang)
            if score > 0:
                scored.append((-score, entry.sort_key, entry.service))
        scored.sort(key=lambda item: item[:2])
        return [service for _, _, service in scored[:limit]]

    def _score(self, entry: _Entry, query: str, lang: str | None) -> float:
        best = 0.0
        if query in entry.bureau_terms:
            best = 30.0
        if _CJK.search(query):
            if lang != "en":
                best = max(best, _score_zh(entry, query))
            return best
        if lang != "en":
            best = max(best, _score_pinyin(entry, query))
        if lang != "zh":
            best = max(best, _score_en(entry, query))
        return best


def _score_zh(entry: _Entry, query: str) -> float:
    query = query.replace(" ", "")
    best = 0.0
    for i, name in enumerate(entry.zh_names):
        weight = 1.0 if i == 0 else 0.9  # the official name outranks a keyword
        # Among partial matches, the name closest in length to the query ranks first.
        extra = min(len(name) - len(query), 10) * 0.5
        if name == query:
            best = max(best, 100.0 if i == 0 else 95.0)  # an exact keyword beats any prefix
        elif name.startswith(query):
            best = max(best, (90 - extra) * weight)
        elif query in name:
            best = max(best, (80 - extra) * weight)
    if best:
        return best
    if query in entry.zh_text:
        return 40.0
    # A typo or a different order (居往证, 证住居): how much of the query one name shares.
    if len(set(query)) < 2:
        return 0.0
    best_share = 0.0
    for name in entry.zh_names:
        share = len(set(query) & set(name)) / len(set(query))
        if share >= 0.66:
            ratio = difflib.SequenceMatcher(None, query, name).ratio()
            best_share = max(best_share, share + ratio / 2)
    return 20 + 20 * best_share if best_share else 0.0


def _score_pinyin(entry: _Entry, query: str) -> float:
    compact = query.replace(" ", "").replace("'", "")
    if not compact.isascii() or not compact.isalpha():
        return 0.0
    best = 0.0
    for i, sylls in enumerate(entry.pinyin):
        if not sylls:
            continue
        weight = 1.0 if i == 0 else 0.9
        found = matches_syllables(compact, sylls)
        if found is not None and spells_whole(compact, sylls):
            best = max(best, 98.0 if i == 0 else 93.0)
        elif found is not None:
            start, full = found
            # Starting at the first syllable and typing syllables out in full rank higher.
            score = 70 + (10 if start == 0 else 0) + min(full, 5) * 2 - min(len(sylls), 10) * 0.3
            best = max(best, score * weight)
        elif len(compact) >= 5:
            # One typo in full pinyin of a whole word: juzhuzhen, jizhuzheng.
            joined = "".join(sylls)
            for s in range(len(sylls)):
                for e in range(s + 1, len(sylls) + 1):
                    if within_one_edit(compact, "".join(sylls[s:e])):
                        best = max(best, 50 * weight)
            if best == 0 and within_one_edit(compact, joined):
                best = 50 * weight
    return best


def _score_en(entry: _Entry, query: str) -> float:
    words = [w for w in _WORD.findall(query) if w not in _STOP_EN] or _WORD.findall(query)
    if not words:
        return 0.0
    if query == entry.en_name:
        return 95.0
    if entry.en_name.startswith(query):
        return 85.0
    name_hits = sum(_word_hit(w, entry.en_words) for w in words)
    if name_hits:
        return 45 + 35 * name_hits / len(words)
    text_words = _WORD.findall(entry.en_text)
    text_hits = sum(_word_hit(w, text_words) for w in words)
    if text_hits == len(words):
        return 35.0
    return 0.0


def _word_hit(word: str, words: Sequence[str]) -> float:
    """1 for a word or a prefix of one (3+ letters), 0.7 for one typo (5+ letters)."""
    if word in words:
        return 1.0
    if len(word) >= 3 and any(w.startswith(word) for w in words):
        return 1.0
    if len(word) >= 5 and any(within_one_edit(word, w) for w in words if len(w) >= 4):
        return 0.7
    return 0.0
