"""The shipped catalog: complete enough for the kiosk, and what the hall configuration names."""

from __future__ import annotations

import pytest

from content import (
    CounterKind,
    FieldType,
    MissingServicesError,
    UnknownBureauError,
    UnknownServiceError,
    default_catalog,
    load_catalog,
    pinyin_key,
)

PILOT_BUREAUS = [
    "jisheng",
    "canlian",
    "renshe",
    "minzheng",
    "laoling",
    "fangguan",
    "jiaowei",
    "liuguan",
]

# The ids the hall's example configuration names, with their Chinese names.
HALL_SERVICES = {
    "jisheng.birth_registration": "生育登记",
    "jisheng.only_child_award": "独生子女父母奖励",
    "canlian.disability_certificate": "残疾人证申领",
    "canlian.disability_subsidy": "困难残疾人生活补贴和重度残疾人护理补贴",
    "renshe.employment_registration": "就业失业登记",
    "renshe.social_insurance_card": "社会保障卡申领",
    "minzheng.subsistence_allowance": "最低生活保障",
    "minzheng.temporary_assistance": "临时救助",
    "laoling.senior_allowance": "高龄津贴",
    "laoling.senior_card": "北京通-养老助残卡",
    "fangguan.public_rental_housing": "公租房申请",
    "fangguan.rent_subsidy": "市场租房补贴",
    "jiaowei.school_enrollment": "义务教育入学登记",
    "jiaowei.student_aid": "学生资助",
    "liuguan.residence_permit": "居住证办理",
    "liuguan.residence_registration": "居住登记",
}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_default_catalog_is_loaded_once():
    assert default_catalog() is default_catalog()


def test_all_eight_pilot_bureaus_in_menu_order(catalog):
    assert [b.code for b in catalog.bureaus][:8] == PILOT_BUREAUS
    for code in PILOT_BUREAUS:
        assert catalog.by_bureau(code), code


def test_hall_configuration_services_exist_with_their_meaning(catalog):
    catalog.check_hall_services(HALL_SERVICES)
    for service_id, name_zh in HALL_SERVICES.items():
        assert catalog.service(service_id).name_zh == name_zh


def test_sixty_services_about_a_third_instant(catalog):
    services = catalog.services
    assert len(services) >= 60
    share = sum(s.instant for s in services) / len(services)
    assert 0.25 <= share <= 0.45, share


@pytest.mark.parametrize("service", load_catalog().services, ids=lambda s: s.id)
def test_every_service_carries_what_the_kiosk_needs(service):
    assert service.name_zh and service.name_en and service.name_en.isascii()
    assert service.description.zh and service.description.en.isascii()
    assert service.materials and service.form and service.steps and service.eligibility
    for material in service.materials:
        assert material.name_zh and material.name_en.isascii()
    # Something reads the ID card into the form: the kiosk's first screen depends on it.
    assert service.id_card_fields(), "no form field comes from the ID card"
    for field in service.form:
        assert field.label_zh and field.label_en.isascii()
    assert service.avg_service_minutes > 0 and service.daily_quota > 0
    assert service.legal_basis
    if service.counter_kind is CounterKind.CERTIFICATE:
        assert service.makes_certificate


def test_materials_share_keys_with_the_library(catalog):
    # One key, one document: e-copies reused across services rely on it.
    names: dict[str, str] = {}
    for service in catalog.services:
        for m in service.materials:
            if m.key in catalog.materials:
                names.setdefault(m.key, catalog.materials[m.key].name_zh)
    assert {"id_card", "hukou_book", "marriage_cert"} <= set(names)
    for service in catalog.services:
        for m in service.materials:
            if m.key in catalog.materials:
                assert m.name_zh == catalog.materials[m.key].name_zh, (service.id, m.key)
    assert catalog.materials["hukou_book"].reusable_e_copy
    assert not catalog.materials["id_card"].reusable_e_copy


def test_both_counter_kinds_are_used(catalog):
    kinds = {s.counter_kind for s in catalog.services}
    assert kinds == {CounterKind.COMPREHENSIVE, CounterKind.CERTIFICATE}


def test_field_types_are_known_and_id_numbers_typed(catalog):
    for service in catalog.services:
        for field in service.form:
            assert isinstance(field.type, FieldType)
            if field.from_id_card == "id_number":
                assert field.type is FieldType.ID_NUMBER


def test_services_are_sorted_by_pinyin(catalog):
    names = [s.name_zh for s in catalog.services]
    assert names == sorted(names, key=pinyin_key)
    for code in PILOT_BUREAUS:
        own = [s.name_zh for s in catalog.by_bureau(code)]
        assert own == sorted(own, key=pinyin_key)


def test_pinyin_order_is_not_code_point_order():
    # 残 (can) before 居 (ju) before 最 (zui); code points would put 居 (U+5C45) first.
    names = ["最低生活保障", "居住证办理", "残疾人证申领"]
    assert sorted(names, key=pinyin_key) == ["残疾人证申领", "居住证办理", "最低生活保障"]
    assert sorted(names) != sorted(names, key=pinyin_key)


def test_unknown_service_is_a_typed_key_error_with_suggestions(catalog):
    with pytest.raises(UnknownServiceError) as info:
        catalog.service("liuguan.residence_permitt")
    assert isinstance(info.value, KeyError)
    assert info.value.suggestions == ["liuguan.residence_permit"]
    assert "unknown service 'liuguan.residence_permitt'" in str(info.value)


def test_unknown_bureau(catalog):
    with pytest.raises(UnknownBureauError, match="unknown bureau 'police'"):
        catalog.by_bureau("police")


def test_hall_check_lists_every_missing_id(catalog):
    ids = [*HALL_SERVICES, "minzheng.marriage", "liuguan.residence_permitt", "minzheng.marriage"]
    with pytest.raises(MissingServicesError) as info:
        catalog.check_hall_services(ids)
    err = info.value
    assert err.missing == ("minzheng.marriage", "liuguan.residence_permitt")
    assert "lacks 2 service(s)" in str(err)
    assert "liuguan.residence_permitt  (did you mean liuguan.residence_permit?)" in str(err)


def test_hall_check_passes_on_an_empty_selection(catalog):
    assert catalog.check_hall_services([]) is None


def test_only_enquiries_and_lost_card_reports_go_without_the_card(catalog):
    optional = {s.id for s in catalog if not s.id_card_required}
    assert optional == {
        "fangguan.progress_inquiry",
        "laoling.senior_card_loss",
        "renshe.social_insurance_card_loss",
        "minzheng.community_org_filing",
    }
    assert not any(catalog.service(i).makes_certificate for i in optional)
