"""A pinyin input method for the on-screen keyboard: plain Python, no Kivy.

    ime = PinyinIME(page_size=6)
    for letter in "beijing":
        ime.type(letter)
    ime.page_candidates()        # ['北京', '背景', '背静', '被', '北', '备']
    text = ime.choose(0)         # '北京' goes into the field; the letters are used up

Candidates for the letters typed, best first:

1. words whose whole pinyin is what was typed (``beijing`` → 北京), then, when more than one
   syllable was typed, words whose pinyin starts with it (``beij`` → 北京);
2. the characters of the first syllable (``zhangsan`` → 张 …; choosing 张 leaves ``san``).
   GB2312 level-1 characters (the 3,755 most common) come before level-2 ones, characters
   whose main reading this is before those that only may be read so (长 is cháng first), and
   among those, the ones in more dictionary words first: a plain frequency proxy;
3. when no syllable is complete yet (``zh``), the characters of every syllable it begins.

The tables come from pypinyin's character and phrase dictionaries, reversed once per process
on first use (about half a second: ``warm()`` does it in a thread before anyone types). Words
are pypinyin's phrases made only of level-1 characters, plus the hall's own vocabulary
(districts, 街道, 社区 …) that residents type into addresses.
"""

from __future__ import annotations

import bisect
import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

LEVEL1 = (0xB0, 0xD7)  # GB2312 rows of level-1 characters (0xB0A1-0xD7F9)
LEVEL2 = (0xD8, 0xF7)  # level 2 (0xD8A1-0xF7FE)
MAX_SYLLABLE = 6  # zhuang, shuang
MAX_BUFFER = 30
MAX_PREFIX_WORDS = 12
# Spellings residents type for ü syllables besides v: lue/nue are written lüe/nüe.
ALIASES = {"lue": "lve", "nue": "nve"}

# Words a Beijing hall's residents type into forms (addresses above all) that pypinyin's
# phrase dictionary, made to settle ambiguous readings, does not carry.
HALL_WORDS = (
    "北京市 北京 东城区 西城区 朝阳区 海淀区 丰台区 石景山区 门头沟区 房山区 通州区 顺义区 "
    "昌平区 大兴区 怀柔区 平谷区 密云区 延庆区 朝阳 海淀 丰台 石景山 门头沟 房山 通州 顺义 "
    "昌平 大兴 怀柔 平谷 密云 延庆 街道 社区 小区 号楼 单元 号院 胡同 大街 路口 乡 镇 村 "
    "金盏 望京 酒仙桥 三里屯 双井 劲松 潘家园 亚运村 回龙观 天通苑 中关村 五道口 "
    "身份证 户口 户口本 居住证 社保 医保 低保 退休 残疾 老年 独生子女 结婚 离婚 出生 "
    "工作 单位 公司 学校 幼儿园 医院 手机 电话 联系人 父亲 母亲 配偶 子女 儿子 女儿"
).split()

# Where pypinyin's reading of a hall word is not the place name's: 朝阳 the district is Cháoyáng.
HALL_PINYIN = {"朝阳": "chaoyang"}


def plain(syllable: str) -> str:
    """``lǜ`` → ``lv``, ``zhāng`` → ``zhang``: tone marks off, ü as v (as residents type it)."""
    decomposed = unicodedata.normalize("NFD", syllable.lower()).replace("u\u0308", "v")
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def gb2312_rows(first: int, last: int) -> list[str]:
    """The characters of GB2312 rows ``first..last``, in code order."""
    out = []
    for high in range(first, last + 1):
        for low in range(0xA1, 0xFF):
            try:
                out.append(bytes((high, low)).decode("gb2312"))
            except UnicodeDecodeError:  # the unassigned tail of row 0xD7
                continue
    return out


@dataclass(frozen=True)
class PinyinTable:
    chars: dict[str, tuple[str, ...]]  # syllable -> characters, best first
    words: dict[str, tuple[str, ...]]  # whole pinyin ("beijing") -> words
    word_keys: tuple[str, ...]  # sorted, for prefix look-ups

    @property
    def syllables(self) -> frozenset[str]:
        return frozenset(self.chars)

    def prefix_words(self, prefix: str, limit: int) -> list[str]:
        out: list[str] = []
        i = bisect.bisect_left(self.word_keys, prefix)
        while i < len(self.word_keys) and self.word_keys[i].startswith(prefix):
            out.extend(self.words[self.word_keys[i]])
            if len(out) >= limit:
                break
            i += 1
        return out[:limit]


@lru_cache(maxsize=1)
def pinyin_table() -> PinyinTable:
    """Build the reverse tables from pypinyin's dictionaries (once per process)."""
    from pypinyin import Style, lazy_pinyin
    from pypinyin.phrases_dict import phrases_dict
    from pypinyin.pinyin_dict import pinyin_dict

    level1 = gb2312_rows(*LEVEL1)
    level2 = gb2312_rows(*LEVEL2)
    order = {c: i for i, c in enumerate(level1 + level2)}
    common = set(level1)
    in_words: Counter[str] = Counter(c for word in phrases_dict for c in word)
    readings: dict[str, list[str]] = {}
    for char in order:
        raw = pinyin_dict.get(ord(char))
        if raw:
            readings[char] = list(dict.fromkeys(plain(r) for r in raw.split(",")))
    by_syllable: dict[str, list[str]] = {}
    for char, syllables in readings.items():
        for syllable in syllables:
            by_syllable.setdefault(syllable, []).append(char)
    chars = {
        syllable: tuple(
            sorted(
                found,
                key=lambda c, s=syllable: (
                    c not in common,
                    readings[c][0] != s,
                    -in_words[c],
                    order[c],
                ),
            )
        )
        for syllable, found in by_syllable.items()
        if syllable.isascii() and syllable.isalpha()
    }
    words: dict[str, list[str]] = {}
    for word in HALL_WORDS:
        key = HALL_PINYIN.get(word) or "".join(
            plain(p) for p in lazy_pinyin(word, style=Style.TONE)
        )
        words.setdefault(key, []).append(word)
    for word, pinyin in phrases_dict.items():
        if len(word) < 2 or not all(c in common for c in word):
            continue
        key = "".join(plain(p[0]) for p in pinyin)
        if word not in words.get(key, ()):
            words.setdefault(key, []).append(word)
    return PinyinTable(
        chars=chars,
        words={k: tuple(v) for k, v in words.items()},
        word_keys=tuple(sorted(words)),
    )


def warm() -> threading.Thread:
    """Build the tables in a background thread (an app calls this at start)."""
    thread = threading.Thread(target=pinyin_table, name="pinyin-table", daemon=True)
    thread.start()
    return thread


class PinyinIME:
    """The letters typed so far (``buffer``) and their candidates, a page at a time."""

    def __init__(self, table: PinyinTable | None = None, *, page_size: int = 6) -> None:
        self._table = table
        self.page_size = page_size
        self.buffer = ""
        self.page = 0
        self._candidates: list[tuple[str, int]] | None = None  # (text, letters it uses up)

    @property
    def table(self) -> PinyinTable:
        if self._table is None:
            self._table = pinyin_table()
        return self._table

    @property
    def composing(self) -> bool:
        return bool(self.buffer)

    # --- input ----------------------------------------------------------------------------------

    def type(self, letter: str) -> None:
        """One letter a-z (or v for ü); anything else is not pinyin and is refused."""
        letter = letter.lower()
        if len(letter) != 1 or not ("a" <= letter <= "z"):
            raise ValueError(f"not a pinyin letter: {letter!r}")
        if len(self.buffer) < MAX_BUFFER:
            self._set(self.buffer + letter)

    def backspace(self) -> bool:
        """Delete the last letter; False when there was none (the field's text is next)."""
        if not self.buffer:
            return False
        self._set(self.buffer[:-1])
        return True

    def clear(self) -> None:
        self._set("")

    def choose(self, index: int) -> str:
        """Take candidate ``index`` of this page: its text (for the field); the letters it
        stands for leave the buffer, and the rest's candidates show from the first page."""
        candidates = self._all()
        position = self.page * self.page_size + index
        if not 0 <= index < self.page_size or position >= len(candidates):
            raise IndexError(f"no candidate {index} on page {self.page + 1}")
        text, used = candidates[position]
        self._set(self.buffer[used:])
        return text

    def first(self) -> str:
        """The space bar: the best candidate, or the letters as typed when there is none."""
        if not self.buffer:
            return ""
        if self._all():
            self.page = 0
            return self.choose(0)
        text = self.buffer
        self._set("")
        return text

    # --- candidates -------------------------------------------------------------------------------

    def candidates(self) -> list[str]:
        return [text for text, _ in self._all()]

    def pages(self) -> int:
        return max(1, -(-len(self._all()) // self.page_size))

    def page_candidates(self) -> list[str]:
        start = self.page * self.page_size
        return [text for text, _ in self._all()[start : start + self.page_size]]

    def next_page(self) -> bool:
        if self.page + 1 < self.pages():
            self.page += 1
            return True
        return False

    def prev_page(self) -> bool:
        if self.page > 0:
            self.page -= 1
            return True
        return False

    def first_syllable(self) -> str:
        """The longest complete syllable the buffer starts with ("" if none)."""
        chars = self.table.chars
        for length in range(min(MAX_SYLLABLE, len(self.buffer)), 0, -1):
            head = self.buffer[:length]
            if head in chars or head in ALIASES:
                return head
        return ""

    def _set(self, buffer: str) -> None:
        self.buffer = buffer
        self.page = 0
        self._candidates = None

    def _all(self) -> list[tuple[str, int]]:
        if self._candidates is None:
            self._candidates = self._compute()
        return self._candidates

    def _compute(self) -> list[tuple[str, int]]:
        typed = self.buffer
        if not typed:
            return []
        table = self.table
        whole = len(typed)
        out: list[tuple[str, int]] = [(w, whole) for w in table.words.get(typed, ())]
        first = self.first_syllable()
        if first and len(first) < whole:
            out.extend((w, whole) for w in table.prefix_words(typed, MAX_PREFIX_WORDS))
        if first:
            out.extend((c, len(first)) for c in table.chars[ALIASES.get(first, first)])
        else:
            # Interleave: every syllable's best character, then every second-best, ...
            rank: dict[str, int] = {}
            for syllable in sorted(s for s in table.chars if s.startswith(typed)):
                for i, c in enumerate(table.chars[syllable][:40]):
                    rank[c] = min(rank.get(c, i), i)
            out.extend((c, whole) for c in sorted(rank, key=rank.__getitem__))
        seen: set[str] = set()
        unique = []
        for text, used in out:
            if text not in seen:
                seen.add(text)
                unique.append((text, used))
        return unique
