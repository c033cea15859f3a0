"""The one identity value every reader returns, and the decoding of the SAM_V text block.

The 256-byte text block is UCS-2 little-endian padded with spaces; the character at byte 248
tells the card type (resident ID card, J = HK/Macau/Taiwan residence permit, I = 2017 foreign
permanent-resident card, Y = 2023 one). Offsets and codes: shared reference "devices.md" §1-§2.

Privacy: the photo and fingerprint never reach this module. An ``Identity`` masks its number in
``repr``/``str`` so that logging one by accident never leaks the clear number.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from datetime import date

from devices.errors import CardExpired, InvalidCardData

TEXT_BLOCK_LEN = 256

# GB 11643-1999 check digit.
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"

# GB 3304 nation codes (two digits) to names.
NATIONS: dict[str, str] = {
    f"{i + 1:02d}": name
    for i, name in enumerate(
        "汉 蒙古 回 藏 维吾尔 苗 彝 壮 布依 朝鲜 满 侗 瑶 白 土家 哈尼 哈萨克 傣 黎 "
        "傈僳 佤 畲 高山 拉祜 水 东乡 纳西 景颇 柯尔克孜 土 达斡尔 仫佬 羌 布朗 "
        "撒拉 毛南 仡佬 锡伯 阿昌 普米 塔吉克 怒 乌孜别克 俄罗斯 鄂温克 德昂 保安 "
        "裕固 京 塔塔尔 独龙 鄂伦春 赫哲 门巴 珞巴 基诺".split()
    )
}
NATIONS.update({"97": "其他", "98": "外国血统中国籍人士"})


class DocumentType(enum.Enum):
    RESIDENT_ID = "resident_id"  # 居民身份证
    HMT_PERMIT = "hmt_residence_permit"  # 港澳台居民居住证 (J)
    FOREIGN_PR_2017 = "foreign_pr_2017"  # 外国人永久居留身份证 2017 (I)
    FOREIGN_PR_2023 = "foreign_pr_2023"  # 外国人永久居留身份证 2023 (Y)
    SOCIAL_SECURITY = "social_security"  # 社会保障卡 (PC/SC)


class Sex(enum.Enum):
    """GB/T 2261.1-2003 codes."""

    UNKNOWN = "0"
    MALE = "1"
    FEMALE = "2"
    NOT_STATED = "9"


@dataclass(frozen=True)
class Identity:
    """Who the resident is, as read from a card; ``valid_to`` is None for a long-term card."""

    document_type: DocumentType
    number: str = field(repr=False)
    name: str
    sex: Sex
    nation: str | None  # nation name for resident cards, None where the card has none
    birth_date: date
    address: str | None
    authority: str | None
    valid_from: date | None
    valid_to: date | None
    name_en: str | None = None
    nationality: str | None = None  # GB/T 2659 three-letter code on foreigner cards

    @property
    def masked_number(self) -> str:
        return mask_number(self.number)

    def __repr__(self) -> str:
        return (
            f"Identity({self.document_type.value}, number={self.masked_number}, "
            f"name={mask_name(self.name)})"
        )

    __str__ = __repr__

    def is_expired(self, today: date) -> bool:
        return self.valid_to is not None and today > self.valid_to

    def check_valid(self, today: date) -> None:
        """Raise CardExpired when the card is past its validity on ``today``."""
        if self.is_expired(today):
            raise CardExpired(f"{self.document_type.value} card expired on {self.valid_to}")

    def to_dict(self, *, show_number: bool = False) -> dict[str, object]:
        """A JSON-ready dict; the number is masked unless ``show_number``."""
        return {
            "document_type": self.document_type.value,
            "number": self.number if show_number else self.masked_number,
            "name": self.name,
            "name_en": self.name_en,
            "sex": self.sex.name.lower(),
            "nation": self.nation,
            "nationality": self.nationality,
            "birth_date": self.birth_date.isoformat(),
            "address": self.address,
            "authority": self.authority,
            "valid_from": self.valid_from.isoformat() if self.valid_from else None,
            "valid_to": self.valid_to.isoformat() if self.valid_to else "长期",
        }


def mask_number(number: str) -> str:
    """Keep the first 3 and last 2 characters: enough for a technician, useless to a thief."""
    if len(number) <= 5:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 5) + number[-2:]


def mask_name(name: str) -> str:
    return name[:1] + "*" * (len(name) - 1) if name else name


def gb11643_check_char(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def is_valid_gb11643(number: str) -> bool:
    """True for 17 digits plus the right check character (0-9 or X)."""
    if not re.fullmatch(r"\d{17}[\dX]", number):
        return False
    return gb11643_check_char(number[:17]) == number[17]


def is_valid_foreigner_2017(number: str) -> bool:
    """The 15-character 2017 permit number: 3 letters (nationality) + 12 digits."""
    return re.fullmatch(r"[A-Z]{3}\d{12}", number) is not None


def _text(block: bytes, start: int, end: int) -> str:
    try:
        return block[start:end].decode("utf-16-le").strip(" \x00\u3000")
    except UnicodeDecodeError as exc:
        raise InvalidCardData(f"text at {start}..{end} is not UCS-2") from exc


def _date(text: str, what: str) -> date:
    if not re.fullmatch(r"\d{8}", text):
        raise InvalidCardData(f"{what} is not YYYYMMDD")
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError as exc:
        raise InvalidCardData(f"{what} is not a calendar date") from exc


def _valid_to(text: str) -> date | None:
    # Long-term cards hold "长期" (or other non-digits) instead of a date.
    if "长期" in text:
        return None
    return _date(text, "valid-to date")


def _sex(code: str) -> Sex:
    try:
        return Sex(code)
    except ValueError as exc:
        raise InvalidCardData(f"unknown sex code {code!r}") from exc


def _check_number(number: str, birth: date, document_type: DocumentType) -> None:
    # Never put the number itself into the message: it would reach the log.
    if not is_valid_gb11643(number):
        raise InvalidCardData(f"{document_type.value} number fails the GB 11643 check")
    if number[6:14] != birth.strftime("%Y%m%d"):
        raise InvalidCardData(f"{document_type.value} number disagrees with the birth date")
    if document_type is DocumentType.HMT_PERMIT and number[:2] not in ("81", "82", "83"):
        raise InvalidCardData("residence permit number lacks the 81/82/83 address code")
    if document_type is DocumentType.FOREIGN_PR_2023 and not number.startswith("9"):
        raise InvalidCardData("2023 permanent-resident number does not start with 9")


def card_type_of(block: bytes) -> DocumentType:
    flag = block[248:250].decode("utf-16-le", errors="replace")
    return {
        "J": DocumentType.HMT_PERMIT,
        "I": DocumentType.FOREIGN_PR_2017,
        "Y": DocumentType.FOREIGN_PR_2023,
    }.get(flag, DocumentType.RESIDENT_ID)


def decode_text_block(block: bytes) -> Identity:
    """Decode the 256-byte SAM_V text block of any of the four card types, checking the number."""
    if len(block) != TEXT_BLOCK_LEN:
        raise InvalidCardData(f"text block is {len(block)} bytes, expected {TEXT_BLOCK_LEN}")
    kind = card_type_of(block)
    if kind is DocumentType.FOREIGN_PR_2017:
        birth = _date(_text(block, 220, 236), "birth date")
        number = _text(block, 122, 152)
        if not is_valid_foreigner_2017(number):
            raise InvalidCardData("2017 permanent-resident number is not 3 letters + 12 digits")
        return Identity(
            document_type=kind,
            number=number,
            name=_text(block, 158, 188) or _text(block, 0, 120),
            name_en=_text(block, 0, 120) or None,
            sex=_sex(_text(block, 120, 122)),
            nation=None,
            nationality=_text(block, 152, 158) or None,
            birth_date=birth,
            address=None,
            authority=None,
            valid_from=_date(_text(block, 188, 204), "valid-from date"),
            valid_to=_valid_to(_text(block, 204, 220)),
        )
    birth = _date(_text(block, 36, 52), "birth date")
    number = _text(block, 122, 158)
    _check_number(number, birth, kind)
    common = dict(
        document_type=kind,
        number=number,
        sex=_sex(_text(block, 30, 32)),
        birth_date=birth,
        valid_from=_date(_text(block, 188, 204), "valid-from date"),
        valid_to=_valid_to(_text(block, 204, 220)),
    )
    if kind is DocumentType.FOREIGN_PR_2023:
        name_en = (_text(block, 52, 122) + _text(block, 220, 242)).strip()
        return Identity(
            name=_text(block, 0, 30) or name_en,
            name_en=name_en or None,
            nation=None,
            nationality=_text(block, 242, 248) or None,
            address=None,
            authority=None,
            **common,
        )
    if kind is DocumentType.HMT_PERMIT:
        nation = None  # the field exists but is not used on J cards
    else:
        code = _text(block, 32, 36)
        nation = NATIONS.get(code)
        if nation is None:
            raise InvalidCardData(f"unknown nation code {code!r}")
    return Identity(
        name=_text(block, 0, 30),
        nation=nation,
        address=_text(block, 52, 122),
        authority=_text(block, 158, 188),
        **common,
    )
