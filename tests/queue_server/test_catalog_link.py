"""The hall configuration checked against the service catalog at start-up."""

from __future__ import annotations

import pytest

from content import default_catalog
from harness.halls import make_config
from queue_server.config import apply_catalog, load_hall_config
from queue_server.errors import ConfigError
from queue_server.example_config import example_config


def test_a_service_the_catalog_lacks_stops_the_start():
    config = make_config(hall_id="h1", url="sqlite:///:memory:")
    bad_queue = config.queues[0].model_copy(
        update={"services": [*config.queues[0].services, "liuguan.no_such_service"]}
    )
    broken = config.model_copy(update={"queues": [bad_queue, *config.queues[1:]]})
    with pytest.raises(ConfigError) as err:
        apply_catalog(broken, default_catalog())
    assert "liuguan.no_such_service" in str(err.value)
    assert err.value.field == "queues"


def test_hall_settings_win_and_the_catalog_fills_the_rest():
    config = make_config(hall_id="h1", url="sqlite:///:memory:")
    merged = {s.id: s for s in apply_catalog(config, default_catalog()).services}
    catalog = default_catalog()
    # Set by the hall: kept.
    assert merged["liuguan.residence_permit"].daily_quota == 120
    assert merged["liuguan.residence_permit"].service_minutes == 8
    # Not set by the hall: the catalog's values.
    award = catalog.service("jisheng.only_child_award")
    assert merged["jisheng.only_child_award"].daily_quota == award.daily_quota
    assert merged["jisheng.only_child_award"].service_minutes == award.avg_service_minutes
    assert merged["jisheng.only_child_award"].name_zh == "独生子女父母奖励"
    # Every queue service has settings.
    assert set(merged) == set(config.service_ids())
    for service_id, settings in merged.items():
        if not catalog.service(service_id).appointment_allowed:
            assert settings.appointment_capacity == 0


def test_the_written_example_loads_with_the_shipped_catalog(tmp_path):
    path = tmp_path / "hall.toml"
    path.write_text(example_config()[0], encoding="utf-8")
    config = load_hall_config(path)
    assert len(config.services) == len(config.service_ids()) == 17
