"""parse_config refuses bad hall configurations with a ConfigError naming the field."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import stat
import tomllib

import pytest

from queue_server import cli
from queue_server.cli import credentials_path, write_example
from queue_server.config import ServerSettings, load_config, parse_config
from queue_server.errors import ConfigError
from queue_server.example_config import example_config
from tests.queue_server.hall_factory import BIRTH, config_data, make_config, make_hall


def _refused(**overrides) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        make_config(**overrides)
    return info.value


def test_example_config_loads_and_builds_a_hall():
    config = make_config()
    assert config.hall.id == "chaoyang-demo"
    assert {q.prefix for q in config.queues} == {"A", "B", "C", "D", "E"}
    assert config.priority("normal") is not None
    hall = make_hall(config)
    assert set(hall.counters) == {1, 2, 3, 4, 5, 6}
    # Queue letters expand into their services; the first tier is the counter's own queue.
    assert hall.counters[1].skills[BIRTH] == 0
    assert hall.counters[5].skills[BIRTH] == 1


def test_example_text_is_valid_toml_with_fresh_secrets():
    text_a, creds_a = example_config()
    text_b, creds_b = example_config()
    assert parse_config(tomllib.loads(text_a)).hall.id == "chaoyang-demo"
    assert creds_a.keys() == creds_b.keys()
    assert creds_a["manager"] != creds_b["manager"]
    # Only hashes go into the file, never the clear secrets.
    for secret in creds_a.values():
        assert secret not in text_a


def test_init_writes_a_config_that_loads_and_a_private_credentials_file(tmp_path):
    path = tmp_path / "hall.toml"
    credentials = write_example(path)
    config = load_config(path)
    assert config.hall.id == "chaoyang-demo"
    # The relative SQLite path is resolved beside the config file.
    assert config.storage.url == f"sqlite:///{(tmp_path / 'yikou.db').resolve()}"
    secrets_file = credentials_path(path)
    assert stat.S_IMODE(os.stat(secrets_file).st_mode) == 0o600
    assert tomllib.loads(secrets_file.read_text())["credentials"] == credentials
    with pytest.raises(FileExistsError):
        write_example(path)
    write_example(path, force=True)


def test_init_command(tmp_path, capsys):
    # The `init` command as main.py runs it (configure + run), without importing the other
    # commands' modules.
    import main

    assert main.COMMANDS["init"][0] == "queue_server.cli"
    parser = argparse.ArgumentParser()
    cli.configure(parser)
    path = tmp_path / "sub" / "hall.toml"
    assert cli.run(parser.parse_args([str(path)])) == 0
    assert load_config(path).hall.name_zh
    assert cli.run(parser.parse_args([str(path)])) == 1  # exists: refused without --force
    assert "--force" in capsys.readouterr().err
    assert cli.run(parser.parse_args([str(path), "--force"])) == 0


def test_load_config_names_the_file_for_bad_toml(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[hall\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        load_config(path)
    assert info.value.source == str(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def _with(section: str, index: int, **changes) -> list:
    items = config_data()[section]
    items[index] = {**items[index], **changes}
    return items


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        (
            {"counters": _with("counters", 0, skills=[["Z"]])},
            "counters[0].skills[0][0]",
            "unknown service or queue 'Z'",
        ),
        ({"queues": _with("queues", 1, prefix="A")}, "queues[1].prefix", "duplicate prefix"),
        ({"queues": _with("queues", 1, prefix="ab")}, "queues[1].prefix", "pattern"),
        ({"rules": {"starvaton_minutes": 5}}, "rules.starvaton_minutes", "Extra inputs"),
        ({"surprise": {"x": 1}}, "surprise", "Extra inputs"),
        ({"hall": {"timezone": "Mars/Olympus"}}, "hall.timezone", "unknown time zone"),
        ({"rules": {"starvation_minutes": 0}}, "rules.starvation_minutes", "greater than 0"),
        ({"hours": {"open": dt.time(18)}}, "hours", "open must be before close"),
        ({"hours": {"last_ticket": dt.time(18)}}, "hours", "last_ticket"),
        ({"hours": {"days": ["mon", "funday"]}}, "hours.days", "'funday'"),
        # A hall with no working weekday: bookable_days would search for ever.
        ({"hours": {"days": []}}, "hours.days", "at least 1"),
        ({"appointments": {"priority": "vip"}}, "appointments.priority", "'vip'"),
        ({"appointments": {"min_days_ahead": 6}}, "appointments", "min_days_ahead"),
        (
            {"services": [*config_data()["services"], {"id": "xx.yy"}]},
            "services[9].id",
            "in no queue",
        ),
        (
            {"services": [*config_data()["services"], config_data()["services"][0]]},
            "services[9].id",
            "duplicate id",
        ),
        ({"counters": _with("counters", 1, id=1)}, "counters[1].id", "duplicate id 1"),
        ({"staff": _with("staff", 0, counters=[42])}, "staff[0].counters", "no counter 42"),
        ({"staff": _with("staff", 0, roles=["boss"])}, "staff[0].roles", "'boss'"),
        ({"devices": _with("devices", 0, role="toaster")}, "devices[0].role", "'toaster'"),
        # A terminal's device URLs: a known scheme for the kind, and only the role's devices.
        (
            {"devices": _with("devices", 0, reader="samvv:///dev/ttyUSB0")},
            "devices[0].reader",
            "'samvv:///dev/ttyUSB0' is not a reader URL: use samv://, pcsc://, sim://",
        ),
        (
            {"devices": _with("devices", 0, scanner="/dev/ttyACM0")},
            "devices[0].scanner",
            "'/dev/ttyACM0' is not a scanner URL: use serial://, evdev://, sim://",
        ),
        # Only a navigator may have no printer: a kiosk prints every ticket.
        (
            {"devices": _with("devices", 0, printer="none")},
            "devices[0].printer",
            "'none' is not a printer URL: use usb://, tcp://, serial://, file://, sim://",
        ),
        (
            {"devices": _with("devices", 2, reader="sim://")},
            "devices[2].reader",
            "a signage terminal has no reader",
        ),
        ({"devices": _with("devices", 1, scanner=7)}, "devices[1].scanner", "valid string"),
        ({"security": {"resident_key_secret": "short"}}, "security.resident_key_secret", "32"),
        ({"storage": {"synchronous": "off"}}, "storage.synchronous", "full, normal or extra"),
    ],
)
def test_bad_config_is_refused_naming_the_field(overrides, field, words):
    error = _refused(**overrides)
    assert error.field == field
    assert words in str(error)
    assert str(error).startswith(f"{field}: ")


def test_terminal_device_urls_load_and_old_entries_without_them_still_do():
    config = make_config(
        devices=[
            {**config_data()["devices"][0], "reader": "samv:///dev/ttyUSB0",
             "printer": "tcp://192.168.1.50:9100", "scanner": "serial:///dev/ttyACM0?suffix=crlf"},
            {**config_data()["devices"][1], "printer": "none"},
            config_data()["devices"][2],
        ]
    )  # fmt: skip
    kiosk, navigator, signage = config.devices
    assert (kiosk.reader, kiosk.printer, kiosk.scanner) == (
        "samv:///dev/ttyUSB0", "tcp://192.168.1.50:9100", "serial:///dev/ttyACM0?suffix=crlf",
    )  # fmt: skip
    assert (navigator.reader, navigator.printer, navigator.scanner) == (None, "none", None)
    assert (signage.reader, signage.printer, signage.scanner) == (None, None, None)
    # The example's own entries name none: init's configuration loads as before.
    assert all(d.reader is None for d in make_config().devices)


def test_missing_normal_class_is_refused():
    classes = [c for c in config_data()["priority_classes"] if c["name"] != "normal"]
    error = _refused(priority_classes=classes)
    assert error.field == "priority_classes"
    assert "'normal'" in str(error)


def test_duplicate_priority_class_is_refused():
    classes = config_data()["priority_classes"]
    error = _refused(priority_classes=[*classes, classes[0]])
    assert error.field == f"priority_classes[{len(classes)}].name"


def test_service_in_two_queues_is_refused():
    queues = config_data()["queues"]
    queues[1]["services"].append(BIRTH)
    error = _refused(queues=queues)
    assert error.field == "queues[1].services[2]"
    assert "already in queue A" in str(error)


def test_queue_service_with_a_bad_id_is_refused():
    # Caught a bug: a queue could name a service id the Service model rejects, so the config
    # loaded but building the Hall crashed with a bare pydantic error.
    queues = config_data()["queues"]
    queues[0]["services"].append("Bad")
    error = _refused(queues=queues)
    assert error.field == "queues[0].services[4]"


def test_service_no_counter_serves_is_refused():
    data = config_data()
    queues = [*data["queues"], {"prefix": "F", "name_zh": "新", "services": ["new.thing"]}]
    error = _refused(queues=queues)
    assert error.field == "counters"
    assert "'new.thing'" in str(error)


def test_missing_required_section_is_named():
    data = config_data()
    del data["security"]
    with pytest.raises(ConfigError) as info:
        parse_config(data, source="hall.toml")
    assert info.value.field == "security"
    assert str(info.value).startswith("hall.toml: security: ")


def test_skills_expand_queue_letters_keeping_the_better_tier():
    config = make_config()
    tiers, expanded = config.expand_skills([["A", BIRTH], ["A", "B"]])
    assert tiers[BIRTH] == 0
    assert all(tiers[s] == 0 for s in config.queues[0].services)
    assert all(tiers[s] == 1 for s in config.queues[1].services)
    assert expanded[1] == config.queues[1].services


def test_workdays_honour_holidays_and_extra_workdays():
    config = make_config(
        hours={"holidays": [dt.date(2026, 11, 27)], "extra_workdays": [dt.date(2026, 11, 29)]}
    )
    hours = config.hours
    assert hours.is_workday(dt.date(2026, 11, 26))  # Thursday
    assert not hours.is_workday(dt.date(2026, 11, 27))  # Friday, a holiday
    assert not hours.is_workday(dt.date(2026, 11, 28))  # Saturday
    assert hours.is_workday(dt.date(2026, 11, 29))  # Sunday worked in lieu
    assert hours.ticket_until == dt.time(16, 30)


def test_init_force_makes_an_existing_credentials_file_private(tmp_path):
    path = tmp_path / "hall.toml"
    write_example(path)
    secrets_file = credentials_path(path)
    os.chmod(secrets_file, 0o644)
    write_example(path, force=True)
    assert stat.S_IMODE(os.stat(secrets_file).st_mode) == 0o600


def test_tls_with_an_http_public_url_is_refused():
    """With TLS on, the port refuses plain HTTP: an http:// public_url would put a dead address
    in every ticket's QR code."""
    tls = {"tls_cert": "/etc/yikou/hall.crt", "tls_key": "/etc/yikou/hall.key"}
    error = _refused(server={**tls, "public_url": "http://hall.example.cn:8765"})
    assert error.field == "server"
    assert "public_url" in str(error) and "https://" in str(error)
    assert make_config(server={**tls, "public_url": "https://hall.example.cn:8765"}).server.tls_cert
    # Without TLS on this port an https:// public_url is fine (a proxy in front ends TLS).
    assert make_config(server={"public_url": "https://hall.example.cn"}).server.tls_cert is None


def test_terminals_reach_the_server_at_its_public_url_or_else_its_host_and_port():
    # The example names its public_url: every terminal and console goes there, path /ws.
    assert make_config().server.client_url() == "ws://127.0.0.1:8765/ws"
    proxied = make_config(server={"host": "0.0.0.0", "public_url": "https://hall.example.cn/q"})
    assert proxied.server.client_url() == "wss://hall.example.cn/ws"
    tls = {"tls_cert": "/etc/yikou/hall.crt", "tls_key": "/etc/yikou/hall.key"}
    secure = make_config(server={**tls, "port": 8443, "public_url": "https://hall.example.cn:8443"})
    assert secure.server.client_url() == "wss://hall.example.cn:8443/ws"
    lan = ServerSettings(port=9000, public_url="http://10.0.0.5:9000")
    assert lan.client_url() == "ws://10.0.0.5:9000/ws"
    # No public_url: the listening address on this machine; a wildcard is no address to open.
    assert ServerSettings(host="0.0.0.0", port=9000).client_url() == "ws://127.0.0.1:9000/ws"
    assert ServerSettings(host="::").client_url() == "ws://127.0.0.1:8765/ws"
    assert ServerSettings(host="10.0.0.5").client_url() == "ws://10.0.0.5:8765/ws"
    assert ServerSettings(host="::1").client_url() == "ws://[::1]:8765/ws"
    # A public_url given later (the demo's use_port) counts as given.
    moved = ServerSettings().model_copy(update={"public_url": "http://127.0.0.1:43210"})
    assert moved.client_url() == "ws://127.0.0.1:43210/ws"


def test_relative_tls_paths_are_resolved_beside_the_config_file(tmp_path):
    path = tmp_path / "hall.toml"
    write_example(path)
    text = path.read_text(encoding="utf-8")
    text = text.replace('public_url = "http://', 'public_url = "https://')
    text = text.replace('# tls_cert = "/etc/yikou/hall.crt"', 'tls_cert = "tls/hall.crt"')
    path.write_text(text.replace('# tls_key = "/etc/yikou/hall.key"', 'tls_key = "/k.key"'))
    server = load_config(path).server
    assert server.tls_cert == str((tmp_path / "tls" / "hall.crt").resolve())
    assert server.tls_key == "/k.key"
