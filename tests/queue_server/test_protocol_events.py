"""The events the streams carry: typed by queue_server.protocol.events, the JSON as it was."""

from __future__ import annotations

import json

from queue_server import protocol as P
from queue_server import views
from queue_server.engine import events as V
from queue_server.protocol import commands as C
from queue_server.protocol import events as PE
from tests.queue_server.hall_factory import BIRTH, Clock, Driver


def _day() -> list[V.Event]:
    d = Driver(clock=Clock())
    d.issue(BIRTH)
    d.issue(BIRTH, priority="elderly")
    d.do(C.CallNext(counter=1))
    d.do(C.StartService(counter=1))
    d.do(C.FinishService(counter=1))
    return d.log


def _without_key(data: dict) -> dict:
    data.pop("resident_key", None)
    if isinstance(data.get("ticket"), dict):
        data["ticket"].pop("resident_key", None)
    return data


def test_the_manager_view_is_the_engine_event_without_the_resident_key():
    for ev in _day():
        sent = views.manager_event(ev).model_dump(mode="json")
        assert sent == _without_key(ev.model_dump(mode="json"))
        assert "resident_key" not in json.dumps(sent)


def test_an_issued_ticket_reads_back_as_the_view_its_stream_sent():
    issued = next(ev for ev in _day() if isinstance(ev, V.TicketIssued))
    for view, kind in (
        (views.public_event(issued), PE.IssuedTicket),
        (views.manager_event(issued), PE.StaffIssuedTicket),
    ):
        text = P.EventMsg(stream="public", seq=issued.seq, event=view).model_dump_json()
        back = P.SERVER_ADAPTER.validate_json(text)
        assert type(back.event.ticket) is kind
        assert back.model_dump_json() == text
    public = views.public_event(issued).model_dump(mode="json")
    assert set(public["ticket"]) == {"id", "number", "day", "service", "queue"}


def test_the_public_sees_no_rank_of_a_transfer_and_no_manager_only_type():
    ev = V.TicketTransferred(
        seq=3, at=Clock().now, ticket_id="t", number="A001", from_service="a", to_service="b",
        queue="B", rank=2, counter=None,
    )  # fmt: skip
    assert "rank" not in views.public_event(ev).model_dump(mode="json")
    assert views.manager_event(ev).model_dump(mode="json")["rank"] == 2
    moved = V.TicketMoved(seq=4, at=Clock().now, ticket_id="t", number="A001", rank=0, order_key=1)
    assert views.public_event(moved) is None


def test_an_event_type_this_version_does_not_know_is_kept_not_refused():
    text = (
        '{"v":1,"type":"event","stream":"public","seq":9,"event":'
        '{"seq":9,"at":"2026-11-26T01:30:12Z","type":"case_opened","case":"X1"}}'
    )
    msg = P.SERVER_ADAPTER.validate_json(text)
    assert isinstance(msg.event, PE.OtherEvent) and msg.event.type == "case_opened"
    assert msg.model_dump_json() == text
