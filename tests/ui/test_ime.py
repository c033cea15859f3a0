"""The pinyin input method without a window: letters in, candidates and committed text out."""

from __future__ import annotations

import pytest
from pypinyin.pinyin_dict import pinyin_dict

from ui.ime import PinyinIME, gb2312_rows, pinyin_table, plain


def typed(text: str, page_size: int = 8) -> PinyinIME:
    ime = PinyinIME(page_size=page_size)
    for letter in text:
        ime.type(letter)
    return ime


def test_gb2312_levels_and_plain_pinyin():
    level1 = gb2312_rows(0xB0, 0xD7)
    assert len(level1) == 3755 and level1[0] == "啊" and level1[-1] == "座"
    assert len(gb2312_rows(0xD8, 0xF7)) == 3008
    assert plain("zhāng") == "zhang" and plain("lǜ") == "lv" and plain("nǚ") == "nv"


def test_a_word_typed_whole_comes_first():
    ime = typed("beijing")
    assert ime.page_candidates()[0] == "北京"
    assert ime.choose(0) == "北京" and ime.buffer == "" and ime.candidates() == []


def test_a_name_character_by_character():
    ime = typed("zhangsan")
    first_page = ime.page_candidates()
    assert "张" in first_page and "三" not in first_page
    assert ime.choose(first_page.index("张")) == "张"
    assert ime.buffer == "san" and ime.page_candidates()[0] == "三"
    assert ime.choose(0) == "三" and not ime.composing


def test_common_characters_before_rare_and_main_readings_first():
    table = pinyin_table()
    shi = table.chars["shi"]
    level1 = set(gb2312_rows(0xB0, 0xD7))
    first_rare = next(i for i, c in enumerate(shi) if c not in level1)
    assert all(c in level1 for c in shi[:first_rare]) and first_rare > 30
    assert shi.index("是") < 16 and shi.index("市") < 16
    # Characters only sometimes read shi (什 is shén first) come after those read shi first.
    main = [c for c in shi[:first_rare] if plain(pinyin_dict[ord(c)].split(",")[0]) == "shi"]
    assert shi[: len(main)] == tuple(main) and shi.index("什") >= len(main)


def test_hall_vocabulary_and_prefixes():
    assert typed("chaoyangqu").page_candidates()[0] == "朝阳区"
    assert typed("chaoyang").page_candidates()[0] == "朝阳"  # the district, not zhāoyáng
    assert typed("jiedao").page_candidates()[0] == "街道"
    assert "北京" in typed("beij").candidates()[:12]  # a word from its start
    assert typed("lv").page_candidates()[0] in "绿律旅吕率虑"
    assert typed("lue").page_candidates()[0] == "略"  # lüe typed as lue
    incomplete = typed("zh")  # no syllable yet: the best of zha, zhe, zhi ...
    assert {"这", "中"} & set(incomplete.candidates()[:20])


def test_paging_space_delete_and_limits():
    ime = typed("shi", page_size=4)
    assert ime.pages() > 5 and ime.prev_page() is False
    first = ime.page_candidates()
    assert ime.next_page() and ime.page == 1 and ime.page_candidates() != first
    fifth = ime.candidates()[4]
    assert ime.choose(0) == fifth  # the index is on this page
    ime = typed("bei")
    assert ime.backspace() and ime.buffer == "be"
    best = ime.candidates()[0]
    assert ime.first() == best and ime.buffer == ""  # the space bar takes the best
    assert typed("").backspace() is False  # nothing typed: the field's own delete
    with pytest.raises(ValueError, match="not a pinyin letter"):
        PinyinIME().type("1")
    with pytest.raises(IndexError):
        typed("ni", page_size=4).choose(4)
    nonsense = typed("vvv")  # no syllable, no candidate: the space bar gives the letters
    assert nonsense.candidates() == [] and nonsense.first() == "vvv" and not nonsense.composing
