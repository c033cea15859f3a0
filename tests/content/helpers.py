"""Small catalogs written to a temporary folder, for tests that need a bad or tiny one."""

from __future__ import annotations

import textwrap
from pathlib import Path

BUREAU = """\
[bureau]
code = "{code}"
name_zh = "测试局"
name_en = "Test bureau"
short_zh = "测试"
order = 1
"""

SERVICE = """\
[[services]]
id = "{id}"
name_zh = "{name_zh}"
name_en = "{name_en}"
description = {{ zh = "测试事项。", en = "A test service." }}
eligibility = ["本市居民"]
materials = ["id_card", {{ key = "form_a", name_zh = "申请表", name_en = "Form", form = "form" }}]
form = ["name", "id_number"]
steps = ["提交材料"]
instant = true
time_limit_days = 0
legal_basis = ["《测试条例》"]
"""

MATERIALS = """\
[materials.id_card]
name_zh = "居民身份证"
name_en = "Resident ID card"
reusable_e_copy = false
"""

FIELDS = """\
[fields.name]
label_zh = "姓名"
label_en = "Name"
from_id_card = "name"

[fields.id_number]
label_zh = "公民身份号码"
label_en = "ID number"
type = "id_number"
from_id_card = "id_number"
"""


def service_toml(
    id: str = "test.one", name_zh: str = "测试事项", name_en: str = "Test", extra: str = ""
) -> str:
    return SERVICE.format(id=id, name_zh=name_zh, name_en=name_en) + textwrap.dedent(extra)


def write_catalog(root: Path, bureaus: dict[str, str], *, libraries: bool = True) -> Path:
    """Write {code: services TOML} as a catalog folder; each file gets its [bureau] table."""
    root.mkdir(parents=True, exist_ok=True)
    if libraries:
        (root / "_materials.toml").write_text(MATERIALS, encoding="utf-8")
        (root / "_fields.toml").write_text(FIELDS, encoding="utf-8")
    for code, services in bureaus.items():
        (root / f"{code}.toml").write_text(
            BUREAU.format(code=code) + "\n" + services, encoding="utf-8"
        )
    return root
