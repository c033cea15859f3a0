"""terminal.flow's collaborators: what the hall offers of the catalog, and the idle timer."""

from __future__ import annotations

from content import default_catalog
from harness.servers import hall_config
from terminal.flow import HallOffer, IdleTimer


def test_the_offer_is_what_the_hall_queues_in_its_queues_order():
    catalog, config = default_catalog(), hall_config("sqlite:///:memory:")
    offer = HallOffer(catalog, config)
    queued = [s for q in config.queues for s in q.services if s in catalog]
    assert [s.id for s in offer.services] == list(dict.fromkeys(queued))
    assert {b.code for b in offer.bureaus} == {s.bureau for s in offer.services}
    bureau = offer.bureaus[0].code
    assert offer.in_bureau(bureau) and all(s.bureau == bureau for s in offer.in_bureau(bureau))
    assert all(s.id in offer for s in offer.search("jzz"))
    assert offer.search("  ") == []


def test_the_idle_timer_measures_from_the_touch_or_the_entry():
    now = [100.0]
    idle = IdleTimer(lambda: now[0])
    now[0] = 110.0
    idle.touch()
    now[0] = 115.0
    assert idle.left(60) == 55.0
    assert idle.left(60, since_entered=True) == 45.0
    assert idle.left(None) is None
    now[0] = 500.0
    assert idle.left(60) == 0.0
    idle.restart()
    assert idle.left(60, since_entered=True) == 60.0
