"""The kiosk's settings: the hall configuration's optional ``[kiosk]`` section.

    [kiosk]
    id_required = "per_service"     # per_service (the catalog's id_card_required), always, never
    card_required = []              # services that need the card here whatever the catalog says
    card_optional = []              # services that may be ticketed without it here
    idle_s = 60                     # no touch for this long: wipe and go home (elderly: 150)
    idle_s_elderly = 150
    warn_s = 15                     # the visible countdown's length (elderly: 30)
    warn_s_elderly = 30
    elderly_age = 65                # large print by itself from this age (default: rules.elderly_age)
    help_desk_zh = "一楼咨询台"      # where to send a resident the machine cannot serve
    help_desk_en = "information desk, ground floor"
    language = "zh"                 # each visit starts in this language
    print_materials = 4             # required materials listed on the paper ticket
    print_note_zh = "过号请重新取号，谢谢！"

Unknown keys are errors (a misspelt ``idel_s`` must not silently keep the default).
``load_settings`` also checks the service ids against the catalog and names close ones.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from queue_server.config import ConfigError

Seconds = Annotated[float, Field(ge=5, le=1800)]
ServiceId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")]


class KioskSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Must a resident identify with the ID card to take a ticket? "per_service": as the
    # catalog's id_card_required says (with card_required/card_optional on top); "always":
    # every ticket is real-name; "never": no ticket needs the card (e.g. while the readers
    # are being replaced; the window checks identity anyway).
    id_required: Literal["per_service", "always", "never"] = "per_service"
    card_required: tuple[ServiceId, ...] = ()
    card_optional: tuple[ServiceId, ...] = ()
    idle_s: Seconds = 60.0  # no touch for this long: wipe and go home
    idle_s_elderly: Seconds = 150.0
    warn_s: Annotated[float, Field(ge=3, le=120)] = 15.0  # the countdown's last seconds
    warn_s_elderly: Annotated[float, Field(ge=3, le=120)] = 30.0
    ticket_s: Seconds = 20.0  # the ticket screen goes home by itself after this
    ticket_s_elderly: Seconds = 40.0
    notice_s: Seconds = 45.0
    page_size: Annotated[int, Field(ge=2, le=12)] = 8  # choices per screen
    page_size_elderly: Annotated[int, Field(ge=1, le=8)] = 4
    # From this age a card turns large print on by itself; None: the hall's rules.elderly_age.
    # (The elderly priority class always follows rules.elderly_age: it is the hall's rule.)
    elderly_age: Annotated[int, Field(ge=50, le=100)] | None = None
    help_desk_zh: Annotated[str, Field(min_length=1, max_length=40)] = "咨询台"
    help_desk_en: Annotated[str, Field(min_length=1, max_length=60)] = "information desk"
    language: Literal["zh", "en"] = "zh"
    print_materials: Annotated[int, Field(ge=0, le=10)] = 4  # listed on the paper ticket
    print_note_zh: Annotated[str, Field(max_length=60)] = "过号请重新取号，谢谢！"
    print_priority: bool = True  # print the priority class when it is not normal

    @model_validator(mode="after")
    def _consistent(self) -> KioskSettings:
        for warn, idle, what in (
            (self.warn_s, self.idle_s, ""),
            (self.warn_s_elderly, self.idle_s_elderly, "_elderly"),
        ):
            if warn >= idle:
                raise ValueError(f"warn_s{what} ({warn:g}) must be shorter than idle_s{what}")
        both = sorted(set(self.card_required) & set(self.card_optional))
        if both:
            raise ValueError(f"services both in card_required and card_optional: {both}")
        return self


def load_settings(section: dict, catalog=None) -> KioskSettings:
    """Validate a ``[kiosk]`` section (``HallConfig.kiosk``); raise ConfigError naming the key
    (``kiosk.idel_s: Extra inputs are not permitted``).

    With ``catalog``, service ids in card_required/card_optional must exist in it.
    """
    try:
        settings = KioskSettings.model_validate(section)
    except ValidationError as exc:
        problems = "; ".join(
            ".".join(["kiosk", *(str(p) for p in err["loc"])]) + ": "
            + err["msg"].removeprefix("Value error, ")
            for err in exc.errors()
        )  # fmt: skip
        raise ConfigError(problems) from exc
    if catalog is not None:
        from content.errors import MissingServicesError

        try:
            catalog.check_hall_services([*settings.card_required, *settings.card_optional])
        except MissingServicesError as exc:
            raise ConfigError(f"kiosk.card_required/card_optional: {exc}") from exc
    return settings
