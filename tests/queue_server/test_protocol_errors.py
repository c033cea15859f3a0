"""The error templates of the protocol package: one table, rendered from code and details."""

from __future__ import annotations

import re

from queue_server import errors as E
from queue_server.protocol import errors as PE
from tools.protocol_doc import engine_error_classes, engine_messages


def test_every_engine_error_code_has_a_template() -> None:
    for cls in engine_error_classes():
        assert any(key.split(".")[0] == cls.code for key in PE.ENGINE_ERRORS), cls.code


def test_a_message_is_rendered_from_code_and_details() -> None:
    err = E.IllegalTransition("ticket", "A001", "call", "done")
    assert (err.message_zh, err.message_en) == (
        "号票 A001 当前「已办结」，不能叫号",
        "ticket A001 is done; 'call' is not allowed",
    )
    # A client renders the same words from the wire's code and details alone.
    wire = err.to_dict()
    assert PE.engine_message(wire["code"], wire["details"]) == (err.message_zh, err.message_en)
    assert E.NotFound("counter", 9).message_zh == "找不到窗口 9"


def test_a_reason_picks_the_wording_and_missing_parameters_show_their_name() -> None:
    err = E.RequeueRefused(reason="grace", ticket="A001", minutes=10)
    assert err.message_en == "A001 was skipped more than 10 minutes ago; please take a new ticket"
    assert err.to_dict()["details"] == {"reason": "grace", "ticket": "A001", "minutes": "10"}
    assert PE.engine_message("not_skilled", {"ticket": "A001"})[1] == (
        "Window {counter} does not handle the service of A001"
    )


def test_the_engines_own_words_match_a_template() -> None:
    # Until every raise site passes parameters only, the words it spells out must be a
    # template's, filled in: the table stays the one source a client renders from.
    def pattern(text: str) -> re.Pattern[str]:
        parts = re.split(r"\{[^}]*\}", text)
        return re.compile(".+".join(re.escape(part) for part in parts) + r"\Z")

    for code, pairs in engine_messages().items():
        templates = [v for k, v in PE.ENGINE_ERRORS.items() if k.split(".")[0] == code]
        for zh, en in pairs:
            filled = zh.replace("{", "<").replace("}", ">"), en.replace("{", "<").replace("}", ">")
            assert any(
                pattern(tzh).match(filled[0]) and pattern(ten).match(filled[1])
                for tzh, ten in templates
            ), (code, zh, en)
