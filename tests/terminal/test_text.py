"""terminal.text: the shared Text type and the words the kiosk and navigator both show."""

import pytest

from kiosk import texts as kiosk_texts
from navigator import texts as navigator_texts
from terminal.text import SHARED_RAW, Text, table


def test_both_apps_use_one_text_type_and_the_shared_words():
    assert kiosk_texts.Text is navigator_texts.Text is Text
    for key, (zh, en) in SHARED_RAW.items():
        assert kiosk_texts.T[key] == navigator_texts.T[key] == Text(zh, en)
    # Words that differ on purpose stay each app's own.
    assert kiosk_texts.T["paused_title"] != navigator_texts.T["paused_title"]


def test_an_app_table_may_not_redefine_a_shared_word():
    with pytest.raises(ValueError, match="search"):
        table({"search": ("查找", "Find")})


def test_text_format_and_desk():
    text = Text("请到{desk}，{n} 人", "Go to the {desk}; {n} people")
    assert text.with_desk("咨询台", "information desk").format(n=3).get("en") == (
        "Go to the information desk; 3 people"
    )
    assert text.get("zh").startswith("请到")
