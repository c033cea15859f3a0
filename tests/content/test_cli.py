"""``python main.py content ...`` end to end, through main.py's parser."""

from __future__ import annotations

import main
from tests.content.helpers import service_toml, write_catalog


def run(capsys, *argv):
    rc = main.main(["--log-level", "WARNING", "content", *argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_check_prints_a_summary(capsys):
    rc, out, err = run(capsys, "check")
    assert rc == 0, err
    assert "8 bureaus" in out and "instant" in out
    assert "liuguan" in out and "signage:" in out


def test_check_fails_on_a_bad_catalog(capsys, tmp_path):
    root = write_catalog(tmp_path, {"test": service_toml(extra="daily_quota = 0\n")})
    rc, out, err = run(capsys, "--catalog", str(root), "check")
    assert rc == 1
    assert "test.toml: service 'test.one': field 'daily_quota'" in err


def test_check_hall_services(capsys):
    rc, out, err = run(capsys, "check", "--hall-services", "liuguan.residence_permit,nope.none")
    assert rc == 1
    assert "nope.none" in err


def test_guide_in_both_languages(capsys):
    rc, out, _ = run(capsys, "guide", "liuguan.residence_permit")
    assert rc == 0
    assert "居住证办理" in out and "【申请材料】" in out and "居民身份证" in out
    assert "以窗口受理为准" in out
    rc, out, _ = run(capsys, "guide", "liuguan.residence_permit", "--lang", "en")
    assert rc == 0 and "Residence permit" in out and "Resident ID card" in out


def test_guide_of_unknown_service_suggests(capsys):
    rc, _, err = run(capsys, "guide", "居住证")
    assert rc == 1
    assert "unknown service" in err and "liuguan.residence_permit" in err


def test_search(capsys):
    rc, out, _ = run(capsys, "search", "jzz")
    assert rc == 0 and out.splitlines()[0].startswith("liuguan.residence_permit")
    rc, out, _ = run(capsys, "search", "xqzv")
    assert rc == 1
