from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from devices.errors import CardExpired, InvalidCardData
from devices.identity import (
    NATIONS,
    DocumentType,
    Sex,
    decode_text_block,
    gb11643_check_char,
    is_valid_foreigner_2017,
    is_valid_gb11643,
    mask_number,
)
from devices.sim import SAMPLE_CARDS, encode_text_block


def _block(fields: dict[int, str]) -> bytes:
    """A text block laid out by hand from byte offsets, independent of the simulator's encoder."""
    block = bytearray(b" \x00" * 128)
    for offset, text in fields.items():
        raw = text.encode("utf-16-le")
        block[offset : offset + len(raw)] = raw
    return bytes(block)


RESIDENT_FIELDS = {
    0: "张三",
    30: "2",
    32: "01",
    36: "19491231",
    52: "北京市朝阳区东三环北路1号",
    122: "110105194912310021",
    158: "北京市公安局朝阳分局",
    188: "20150301",
    204: "长期",
}


def test_check_digit_known_numbers():
    # 11010519491231002X is the textbook example of GB 11643; the X comes from S mod 11 == 2.
    assert gb11643_check_char("11010519491231002") == "X"
    assert is_valid_gb11643("11010519491231002X")
    assert not is_valid_gb11643("110105194912310021")
    assert not is_valid_gb11643("11010519491231002")  # 17 characters
    assert not is_valid_gb11643("1101051949123100xX")


def test_foreigner_2017_number_shape():
    assert is_valid_foreigner_2017("USA110075091501")
    assert not is_valid_foreigner_2017("US1110075091501")
    assert not is_valid_foreigner_2017("USA11007509150")


def test_hand_built_resident_block_decodes_every_field():
    fields = RESIDENT_FIELDS | {122: "11010519491231002X"}
    ident = decode_text_block(_block(fields))
    assert ident.document_type is DocumentType.RESIDENT_ID
    assert ident.name == "张三"
    assert ident.sex is Sex.FEMALE
    assert ident.nation == "汉"
    assert ident.birth_date == date(1949, 12, 31)
    assert ident.address == "北京市朝阳区东三环北路1号"
    assert ident.number == "11010519491231002X"
    assert ident.authority == "北京市公安局朝阳分局"
    assert ident.valid_from == date(2015, 3, 1)
    assert ident.valid_to is None  # 长期
    assert not ident.is_expired(date(2099, 1, 1))


def test_bad_check_digit_is_refused_without_leaking_the_number():
    with pytest.raises(InvalidCardData) as info:
        decode_text_block(_block(RESIDENT_FIELDS))  # ...0021 has the wrong check digit
    assert "110105194912310021" not in str(info.value)
    assert info.value.zh and info.value.en


def test_number_must_agree_with_birth_date():
    fields = RESIDENT_FIELDS | {122: "11010519491231002X", 36: "19500101"}
    with pytest.raises(InvalidCardData, match="birth date"):
        decode_text_block(_block(fields))


@pytest.mark.parametrize(
    "offset,value,match",
    [
        (32, "77", "nation"),
        (30, "5", "sex"),
        (188, "2015AB01", "valid-from"),
        (36, "19491332", "birth"),
    ],
)
def test_malformed_fields_raise_invalid_card_data(offset, value, match):
    fields = RESIDENT_FIELDS | {122: "11010519491231002X", offset: value}
    with pytest.raises(InvalidCardData, match=match):
        decode_text_block(_block(fields))


def test_hand_built_foreigner_2017_block():
    block = _block(
        {
            0: "SMITH, JOHN",
            120: "1",
            122: "USA110075091501",
            152: "USA",
            158: "史密斯",
            188: "20180201",
            204: "20280201",
            220: "19750915",
            248: "I",
        }
    )
    ident = decode_text_block(block)
    assert ident.document_type is DocumentType.FOREIGN_PR_2017
    assert (ident.name, ident.name_en, ident.nationality) == ("史密斯", "SMITH, JOHN", "USA")
    assert ident.sex is Sex.MALE
    assert ident.birth_date == date(1975, 9, 15)
    assert ident.valid_to == date(2028, 2, 1)


def test_hmt_permit_requires_its_address_code():
    number = "11010519491231002X"  # a valid citizen number is not a valid J number
    fields = RESIDENT_FIELDS | {122: number, 248: "J"}
    with pytest.raises(InvalidCardData, match="81/82/83"):
        decode_text_block(_block(fields))


@pytest.mark.parametrize("key", sorted(SAMPLE_CARDS))
def test_every_sample_card_round_trips(key):
    card = SAMPLE_CARDS[key]
    assert decode_text_block(encode_text_block(card)) == card


def test_expiry():
    card = SAMPLE_CARDS["resident_expired"]
    card.check_valid(date(2025, 6, 1))  # the last valid day
    with pytest.raises(CardExpired):
        card.check_valid(date(2025, 6, 2))


def test_repr_and_dict_mask_the_number():
    card = SAMPLE_CARDS["resident"]
    assert card.number not in repr(card) and card.number not in str(card)
    assert "张*" in repr(card)
    assert card.to_dict()["number"] == mask_number(card.number) != card.number
    assert card.to_dict(show_number=True)["number"] == card.number
    assert mask_number("11010519491231002X") == "110*************2X"


def test_nation_table_is_complete():
    assert len(NATIONS) == 58
    assert NATIONS["56"] == "基诺" and NATIONS["01"] == "汉" and NATIONS["98"].startswith("外国")


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_exactly_one_check_character_is_valid(first17):
    valid = [c for c in "0123456789X" if is_valid_gb11643(first17 + c)]
    assert valid == [gb11643_check_char(first17)]
