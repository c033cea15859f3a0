"""The signage's settings: the hall configuration's optional ``[signage]`` section, then the
command line on top.

    [signage]
    template = "请 {number} 号到 {window} 号窗口办理"
    repeat = 2                      # each call spoken twice
    volume = 100                    # espeak-ng amplitude 0..200
    voice = "cmn"                   # espeak-ng voice (cmn: letters read as English letters)
    quiet_hours = ["12:00-13:30"]   # shown but not spoken
    player = "auto"                 # auto, aplay[:DEVICE], paplay, file:PATH, none
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from signage.core import RECENT_LIMIT
from signage.voice import DEFAULT_TEMPLATE, QuietHours, VoiceSettings


class SignageSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    template: str = DEFAULT_TEMPLATE
    recall_template: str | None = None
    repeat: Annotated[int, Field(ge=1, le=5)] = 2
    volume: Annotated[int, Field(ge=0, le=200)] = 100
    voice: str = "cmn"
    rate: Annotated[int, Field(ge=80, le=300)] = 150
    gap_s: Annotated[float, Field(ge=0, le=5)] = 0.8
    quiet_hours: list[str] = []
    player: str = "auto"
    recent: Annotated[int, Field(ge=1, le=20)] = RECENT_LIMIT
    content: str | None = None  # signage content file; default: the catalog's shipped one

    @field_validator("template", "recall_template")
    @classmethod
    def _fields_known(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                value.format(number="A001", window=1, name="")
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(
                    f"template may use {{number}}, {{window}} and {{name}} only: {exc}"
                ) from exc
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _spans(cls, value: list[str]) -> list[str]:
        for span in value:
            QuietHours.parse(span)
        return value

    def voice_settings(self) -> VoiceSettings:
        return VoiceSettings(
            template=self.template,
            recall_template=self.recall_template,
            repeat=self.repeat,
            volume=self.volume,
            voice=self.voice,
            rate=self.rate,
            gap_s=self.gap_s,
            quiet=tuple(QuietHours.parse(s) for s in self.quiet_hours),
        )

    def with_overrides(self, **changes: Any) -> SignageSettings:
        data = self.model_dump()
        data.update({k: v for k, v in changes.items() if v is not None})
        return SignageSettings.model_validate(data)
