"""The lifecycle tables: checked at import; check_table rejects unreachable and trap states."""

from __future__ import annotations

from enum import StrEnum

import pytest

from queue_server.engine.lifecycle import (
    APPOINTMENT_FINAL,
    APPOINTMENT_MOVES,
    COUNTER_FINAL,
    COUNTER_MOVES,
    TICKET_FINAL,
    TICKET_MOVES,
    check_table,
    move,
)
from queue_server.errors import EngineError, IllegalTransition
from queue_server.protocol.states import AppointmentState, CounterState, TicketState


class Light(StrEnum):
    OFF = "off"
    ON = "on"
    BROKEN = "broken"


def test_real_tables_pass():
    check_table(TICKET_MOVES, TicketState, TICKET_FINAL)
    check_table(COUNTER_MOVES, CounterState, COUNTER_FINAL)
    check_table(APPOINTMENT_MOVES, AppointmentState, APPOINTMENT_FINAL)


def test_unreachable_state_is_rejected():
    table = {
        (None, "make"): Light.OFF,
        (Light.OFF, "switch"): Light.ON,
        (Light.ON, "switch"): Light.OFF,
    }
    with pytest.raises(AssertionError, match="unreachable.*broken"):
        check_table(table, Light, set())


def test_trap_state_is_rejected():
    table = {
        (None, "make"): Light.OFF,
        (Light.OFF, "switch"): Light.ON,
        (Light.ON, "switch"): Light.OFF,
        (Light.ON, "smash"): Light.BROKEN,
        # broken can only stay broken: a trap unless it is declared final
        (Light.BROKEN, "switch"): Light.BROKEN,
    }
    with pytest.raises(AssertionError, match="broken is a trap"):
        check_table(table, Light, set())


def test_final_state_with_moves_is_rejected():
    table = {
        (None, "make"): Light.OFF,
        (Light.OFF, "switch"): Light.ON,
        (Light.ON, "switch"): Light.OFF,
        (Light.ON, "smash"): Light.BROKEN,
        (Light.BROKEN, "switch"): Light.BROKEN,
    }
    with pytest.raises(AssertionError, match="final state broken has moves"):
        check_table(table, Light, {Light.BROKEN})


def test_final_state_without_moves_passes():
    table = {
        (None, "make"): Light.OFF,
        (Light.OFF, "switch"): Light.ON,
        (Light.ON, "switch"): Light.OFF,
        (Light.ON, "smash"): Light.BROKEN,
    }
    check_table(table, Light, {Light.BROKEN})


def test_move_follows_the_table_and_names_what_was_refused():
    assert move("ticket", TICKET_MOVES, "A001", TicketState.WAITING, "call") is TicketState.CALLED
    with pytest.raises(IllegalTransition) as info:
        move("ticket", TICKET_MOVES, "A001", TicketState.DONE, "call")
    error = info.value
    assert isinstance(error, EngineError)
    assert (error.kind, error.ident, error.command, error.state) == (
        "ticket",
        "A001",
        "call",
        TicketState.DONE,
    )
    assert "A001" in error.message_en and "call" in error.message_en and "done" in error.message_en
    assert (
        "号票 A001" in error.message_zh
        and "已办结" in error.message_zh
        and "叫号" in error.message_zh
    )
    assert error.to_dict()["code"] == "illegal_transition"


def test_move_from_nothing_says_new():
    with pytest.raises(IllegalTransition) as info:
        move("counter", COUNTER_MOVES, 3, None, "open")
    assert info.value.state == "new"


@pytest.mark.parametrize("state", sorted(TICKET_FINAL))
def test_final_ticket_states_have_no_moves(state):
    assert not [cmd for (source, cmd) in TICKET_MOVES if source == state]
