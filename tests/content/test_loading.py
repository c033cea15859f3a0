"""Loading and validation: bad entries are rejected with messages naming file, entry, field."""

from __future__ import annotations

import pytest

from content import CatalogError, load_catalog
from tests.content.helpers import service_toml, write_catalog


def test_minimal_catalog_loads(tmp_path):
    catalog = load_catalog(write_catalog(tmp_path, {"test": service_toml()}))
    service = catalog.service("test.one")
    assert service.bureau == "test"
    assert [m.key for m in service.materials] == ["id_card", "form_a"]
    assert service.materials[0].name_zh == "居民身份证"  # expanded from the library
    assert service.id_card_fields() == {"name": "name", "id_number": "id_number"}


def _error(tmp_path, services: str, code: str = "test") -> CatalogError:
    with pytest.raises(CatalogError) as info:
        load_catalog(write_catalog(tmp_path, {code: services}))
    return info.value


def test_wrong_field_type_names_file_entry_and_field(tmp_path):
    err = _error(tmp_path, service_toml(extra="daily_quota = -3\n"))
    assert err.file == tmp_path / "test.toml"
    assert err.entry == "service 'test.one'"
    assert err.field == "daily_quota"
    assert "test.toml: service 'test.one': field 'daily_quota'" in str(err)


def test_misspelt_key_is_rejected(tmp_path):
    err = _error(tmp_path, service_toml(extra="instnat = true\n"))
    assert err.field == "instnat"
    assert "Extra inputs are not permitted" in str(err)


def _replace_line(toml: str, prefix: str, line: str) -> str:
    return "\n".join(line if old.startswith(prefix) else old for old in toml.splitlines())


def test_nested_material_error_points_into_the_list(tmp_path):
    materials = 'materials = ["id_card", { key = "x", name_zh = "证明", name_en = "X", count = 0 }]'
    err = _error(tmp_path, _replace_line(service_toml(), "materials", materials))
    assert err.field == "materials.1.count"
    assert "greater than or equal to 1" in str(err)


def test_unknown_material_reference_suggests_the_close_key(tmp_path):
    toml = service_toml().replace('materials = ["id_card",', 'materials = ["id_crad",')
    err = _error(tmp_path, toml)
    assert err.field == "materials.0"
    assert "unknown materials reference 'id_crad'" in str(err)
    assert "did you mean 'id_card'" in str(err)


def test_instant_service_with_time_limit_is_rejected(tmp_path):
    toml = service_toml().replace("time_limit_days = 0", "time_limit_days = 5")
    err = _error(tmp_path, toml)
    assert "instant (即办) service has time_limit_days = 0" in str(err)
    assert err.entry == "service 'test.one'"


def test_id_of_another_bureau_is_rejected(tmp_path):
    err = _error(tmp_path, service_toml(id="other.one"))
    assert "must start with its bureau code 'test'" in str(err)


def test_bad_id_syntax_is_rejected(tmp_path):
    err = _error(tmp_path, service_toml(id="test.Bad-Id"))
    assert err.field == "id"


def test_duplicate_ids_across_services(tmp_path):
    err = _error(tmp_path, service_toml() + "\n" + service_toml())
    assert err.field == "id"
    assert "duplicate id" in str(err)


def test_certificate_counter_requires_a_certificate(tmp_path):
    err = _error(tmp_path, service_toml(extra='counter_kind = "certificate"\n'))
    assert "must make a certificate" in str(err)


def test_counter_kind_must_be_known(tmp_path):
    err = _error(tmp_path, service_toml(extra='counter_kind = "vip"\n'))
    assert err.field == "counter_kind"


def test_select_field_needs_options(tmp_path):
    toml = service_toml().replace(
        'form = ["name", "id_number"]',
        'form = [{ key = "kind", label_zh = "类型", label_en = "Kind", type = "select" }]',
    )
    err = _error(tmp_path, toml)
    assert err.field == "form.0"
    assert "select field needs at least two options" in str(err)


def test_id_card_field_must_fit_the_form_field(tmp_path):
    toml = service_toml().replace(
        'form = ["name", "id_number"]',
        'form = [{ key = "born", label_zh = "出生", label_en = "Born", type = "text", '
        'from_id_card = "birth_date" }]',
    )
    err = _error(tmp_path, toml)
    assert "from_id_card='birth_date' cannot fill a text field" in str(err)


def test_missing_materials_is_rejected(tmp_path):
    toml = "\n".join(
        line for line in service_toml().splitlines() if not line.startswith("materials")
    )
    err = _error(tmp_path, toml)
    assert err.field == "materials"
    assert "Field required" in str(err)


def test_toml_syntax_error_names_the_file(tmp_path):
    err = _error(tmp_path, service_toml() + "\nthis is not toml\n")
    assert err.file == tmp_path / "test.toml"
    assert "TOML syntax error" in str(err)


def test_bureau_code_must_match_the_file_name(tmp_path):
    root = write_catalog(tmp_path, {"test": service_toml()})
    (root / "test.toml").rename(root / "other.toml")
    with pytest.raises(CatalogError) as info:
        load_catalog(root)
    assert info.value.entry == "[bureau]"
    assert "must match the file name" in str(info.value)


def test_every_problem_is_reported_at_once(tmp_path):
    err = _error(
        tmp_path,
        service_toml(extra="daily_quota = 0\n")
        + "\n"
        + service_toml(id="test.two", extra="x = 1\n"),
    )
    assert len(err.problems) == 2
    assert {p.entry for p in err.problems} == {"service 'test.one'", "service 'test.two'"}
    assert "2 problems" in str(err)


def test_defaults_apply_and_services_override_them(tmp_path):
    defaults = "[defaults]\ndaily_quota = 7\navg_service_minutes = 3\n\n"
    root = write_catalog(
        tmp_path,
        {
            "test": defaults
            + service_toml()
            + "\n"
            + service_toml(id="test.two", extra="daily_quota = 9\n")
        },
    )
    catalog = load_catalog(root)
    assert catalog.service("test.one").daily_quota == 7
    assert catalog.service("test.one").avg_service_minutes == 3
    assert catalog.service("test.two").daily_quota == 9


def test_defaults_cannot_set_identity_keys(tmp_path):
    err = _error(tmp_path, "[defaults]\ninstant = true\n\n" + service_toml())
    assert err.entry == "[defaults]"
    assert "cannot default ['instant']" in str(err)


def test_new_bureau_is_data_only(tmp_path):
    root = write_catalog(
        tmp_path, {"test": service_toml(), "tuijun": service_toml(id="tuijun.one", name_zh="优抚")}
    )
    catalog = load_catalog(root)
    assert [s.id for s in catalog.by_bureau("tuijun")] == ["tuijun.one"]


def test_not_a_folder(tmp_path):
    with pytest.raises(CatalogError, match="not a catalog folder"):
        load_catalog(tmp_path / "nothing")


def test_renaming_a_library_material_needs_its_own_key(tmp_path):
    renamed = 'materials = [{ ref = "id_card", name_zh = "户口簿", name_en = "Hukou" }]'
    err = _error(tmp_path, _replace_line(service_toml(), "materials", renamed))
    assert err.field == "materials.0"
    assert "give the different document its own key" in str(err)
    own_key = (
        'materials = [{ ref = "id_card", key = "pp", name_zh = "护照", name_en = "Passport" }]'
    )
    catalog = load_catalog(
        write_catalog(
            tmp_path / "ok", {"test": _replace_line(service_toml(), "materials", own_key)}
        )
    )
    assert catalog.service("test.one").materials[0].key == "pp"


def test_id_card_required_defaults_to_yes_and_a_bureau_may_default_it(tmp_path):
    services = service_toml("test.one") + service_toml(
        "test.two", extra="id_card_required = true\n"
    )
    catalog = load_catalog(write_catalog(tmp_path / "a", {"test": services}))
    assert catalog.service("test.one").id_card_required
    defaults = "[defaults]\nid_card_required = false\n\n"
    catalog = load_catalog(write_catalog(tmp_path / "b", {"test": defaults + services}))
    assert not catalog.service("test.one").id_card_required
    assert catalog.service("test.two").id_card_required  # its own line wins


def test_a_certificate_cannot_be_ticketed_without_the_card(tmp_path):
    extra = "makes_certificate = true\nid_card_required = false\n"
    err = _error(tmp_path, service_toml(extra=extra))
    assert "a service that makes a certificate is real-name" in str(err)
