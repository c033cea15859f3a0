"""The catalog's schema: pydantic models for bureaus, services, materials and form fields.

Models are frozen (services are shared by every screen of a terminal) and forbid unknown keys,
so a misspelt key in a data file is an error rather than a silently ignored line.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
BUREAU_CODE = r"^[a-z][a-z0-9_]*$"
SERVICE_ID = r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$"
KEY = r"^[a-z][a-z0-9_]*$"
_CJK = re.compile(r"[\u3400-\u9fff]")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Text(_Model):
    """A short text in Chinese and English."""

    zh: NonEmpty
    en: NonEmpty

    def get(self, lang: str = "zh") -> str:
        return self.en if lang == "en" else self.zh


class CounterKind(StrEnum):
    """The kind of window that accepts a service."""

    COMPREHENSIVE = "comprehensive"  # 综合窗口: accepts applications of every bureau
    CERTIFICATE = "certificate"  # 制证窗口: photos, fingerprints, card printing

    @property
    def zh(self) -> str:
        return {"comprehensive": "综合窗口", "certificate": "制证窗口"}[self.value]

    @property
    def en(self) -> str:
        return {"comprehensive": "comprehensive window", "certificate": "certificate window"}[
            self.value
        ]


class MaterialForm(StrEnum):
    """Whether the counter wants the original, a copy, or both."""

    ORIGINAL = "original"  # 原件 (checked and handed back unless the guide says otherwise)
    COPY = "copy"  # 复印件
    ORIGINAL_AND_COPY = "original_and_copy"  # 原件及复印件
    FORM = "form"  # a form the window hands out or the kiosk prints (申请表)

    @property
    def zh(self) -> str:
        return {
            "original": "原件",
            "copy": "复印件",
            "original_and_copy": "原件及复印件",
            "form": "表格",
        }[self.value]

    @property
    def en(self) -> str:
        return {
            "original": "original",
            "copy": "copy",
            "original_and_copy": "original and copy",
            "form": "form",
        }[self.value]


class Material(_Model):
    """One document a resident brings.

    ``key`` is stable across services: the kiosk uses it to find an electronic copy kept from
    an earlier visit, which may replace the paper only where ``reusable_e_copy`` is true.
    """

    key: Annotated[str, Field(pattern=KEY)]
    name_zh: NonEmpty
    name_en: NonEmpty
    count: Annotated[int, Field(ge=1, le=20)] = 1
    form: MaterialForm = MaterialForm.ORIGINAL
    note_zh: str = ""  # e.g. "夫妻双方", "近期二寸免冠白底彩色照片"
    condition_zh: str = ""  # when it is needed only in some cases, e.g. "已婚者提供"
    reusable_e_copy: bool = False

    @property
    def required(self) -> bool:
        """Needed by every applicant (no condition attached)."""
        return not self.condition_zh

    def name(self, lang: str = "zh") -> str:
        return self.name_en if lang == "en" else self.name_zh

    def describe(self, lang: str = "zh") -> str:
        """One line of a guide: name, count, original or copy, note and condition."""
        if lang == "en":
            text = f"{self.name_en} ({self.form.en}, {self.count})"
            if self.condition_zh:
                text += " (only in some cases, see the Chinese guide)"
            return text
        text = f"{self.name_zh}（{self.form.zh}{self.count}份"
        text += f"，{self.note_zh}）" if self.note_zh else "）"
        if self.condition_zh:
            text += f"〔{self.condition_zh}〕"
        return text


class FieldType(StrEnum):
    TEXT = "text"
    TEXTAREA = "textarea"
    DATE = "date"
    PHONE = "phone"
    SELECT = "select"
    NUMBER = "number"
    ID_NUMBER = "id_number"
    BOOL = "bool"


IdCardField = Literal["name", "sex", "nation", "birth_date", "address", "id_number"]

# What an ID-card field may pre-fill: the form field's type must be able to hold it.
_ID_CARD_TYPES: dict[str, set[FieldType]] = {
    "name": {FieldType.TEXT},
    "sex": {FieldType.SELECT, FieldType.TEXT},
    "nation": {FieldType.TEXT, FieldType.SELECT},
    "birth_date": {FieldType.DATE},
    "address": {FieldType.TEXT, FieldType.TEXTAREA},
    "id_number": {FieldType.ID_NUMBER},
}


class Option(_Model):
    value: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")]
    zh: NonEmpty
    en: NonEmpty


class FormField(_Model):
    """One field of a service's application form as the kiosk shows it."""

    key: Annotated[str, Field(pattern=KEY)]
    label_zh: NonEmpty
    label_en: NonEmpty
    type: FieldType = FieldType.TEXT
    required: bool = True
    from_id_card: IdCardField | None = None
    options: tuple[Option, ...] = ()
    hint_zh: str = ""
    max_length: Annotated[int, Field(ge=1, le=2000)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> FormField:
        if self.type is FieldType.SELECT and len(self.options) < 2:
            raise ValueError("a select field needs at least two options")
        if self.type is not FieldType.SELECT and self.options:
            raise ValueError(f"options are only for select fields, not {self.type.value}")
        if len({o.value for o in self.options}) != len(self.options):
            raise ValueError("option values must be unique")
        if self.from_id_card and self.type not in _ID_CARD_TYPES[self.from_id_card]:
            raise ValueError(
                f"from_id_card={self.from_id_card!r} cannot fill a {self.type.value} field"
            )
        return self

    def label(self, lang: str = "zh") -> str:
        return self.label_en if lang == "en" else self.label_zh


class Bureau(_Model):
    """A bureau (委办局) whose services the hall accepts."""

    code: Annotated[str, Field(pattern=BUREAU_CODE)]
    name_zh: NonEmpty  # full name, e.g. 卫生健康（计划生育）
    name_en: NonEmpty
    short_zh: NonEmpty  # what the hall calls it, e.g. 计生
    order: int = 100  # position on menus; the eight pilot bureaus use 1..8
    description: Text | None = None

    def name(self, lang: str = "zh") -> str:
        return self.name_en if lang == "en" else self.name_zh


class Service(_Model):
    """One service (事项): the guide, the materials, the form and the queue's defaults."""

    id: Annotated[str, Field(pattern=SERVICE_ID)]
    bureau: Annotated[str, Field(pattern=BUREAU_CODE)]
    name_zh: NonEmpty
    name_en: NonEmpty
    keywords: tuple[NonEmpty, ...] = ()  # other names residents use (准生证, hukou ...)
    description: Text
    eligibility: Annotated[tuple[NonEmpty, ...], Field(min_length=1)]  # who may apply (zh)
    materials: Annotated[tuple[Material, ...], Field(min_length=1)]
    form: tuple[FormField, ...] = ()
    steps: Annotated[tuple[NonEmpty, ...], Field(min_length=1)]
    instant: bool  # 即办: finished while the resident waits
    time_limit_days: Annotated[int, Field(ge=0, le=180)]  # working days; 0 when instant
    time_limit_note: str = ""
    fees: Text = Text(zh="免费", en="Free")
    legal_basis: Annotated[tuple[NonEmpty, ...], Field(min_length=1)]
    counter_kind: CounterKind = CounterKind.COMPREHENSIVE
    makes_certificate: bool = False
    # Must the resident place the ID card to take a ticket at the kiosk? Yes for everything
    # whose record is about the resident (applications, registrations, certificates); no
    # where staff serve without the resident's identity on file (enquiries, consultations)
    # or where the card is often lost too (reporting a lost card). A hall may override it.
    id_card_required: bool = True
    appointment_allowed: bool = True
    daily_quota: Annotated[int, Field(ge=1, le=2000)] = 50
    avg_service_minutes: Annotated[float, Field(gt=0, le=240)] = 10.0
    notes: tuple[NonEmpty, ...] = ()  # 温馨提示

    @model_validator(mode="after")
    def _consistent(self) -> Service:
        if self.id.split(".", 1)[0] != self.bureau:
            raise ValueError(f"id {self.id!r} must start with its bureau code {self.bureau!r}")
        if self.instant and self.time_limit_days:
            raise ValueError("an instant (即办) service has time_limit_days = 0")
        if not self.instant and not self.time_limit_days:
            raise ValueError("a service that is not instant needs time_limit_days > 0")
        if self.makes_certificate and not self.id_card_required:
            raise ValueError("a service that makes a certificate is real-name: id_card_required")
        if self.counter_kind is CounterKind.CERTIFICATE and not self.makes_certificate:
            raise ValueError("a service of the certificate window must make a certificate")
        if not _CJK.search(self.name_zh):
            raise ValueError("name_zh must be Chinese")
        for what, keys in (
            ("material", [m.key for m in self.materials]),
            ("form field", [f.key for f in self.form]),
        ):
            seen: set[str] = set()
            for key in keys:
                if key in seen:
                    raise ValueError(f"duplicate {what} key {key!r}")
                seen.add(key)
        return self

    @property
    def slug(self) -> str:
        return self.id.split(".", 1)[1]

    def name(self, lang: str = "zh") -> str:
        return self.name_en if lang == "en" else self.name_zh

    def id_card_fields(self) -> dict[str, str]:
        """Form field key -> the ID-card field that pre-fills it."""
        return {f.key: f.from_id_card for f in self.form if f.from_id_card}
