"""The hall configuration: one TOML file, validated into typed models.

``load_config(path)`` reads and validates it; any problem raises ``ConfigError`` naming the field
(``counters[2].skills: unknown service or queue 'X'``). ``example_config()`` is the commented example
that ``python main.py init PATH`` writes.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import ssl
import tomllib
import urllib.parse
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from queue_server.errors import ConfigError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Model(BaseModel):
    # extra="forbid": a misspelt key is an error, not a silently ignored setting.
    model_config = ConfigDict(extra="forbid", frozen=True)


class HallInfo(_Model):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    name_zh: str
    name_en: str = ""
    timezone: str = "Asia/Shanghai"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class Hours(_Model):
    # At least one weekday: a hall with no working weekday would leave nothing to book.
    days: list[str] = Field(default=list(WEEKDAYS[:5]), min_length=1)
    open: dt.time = dt.time(9, 0)
    close: dt.time = dt.time(17, 0)
    # Tickets are issued until this time; later arrivals are told to come back tomorrow.
    last_ticket: dt.time | None = None
    holidays: list[dt.date] = []
    # Weekend days that are working days in lieu of a holiday (调休上班).
    extra_workdays: list[dt.date] = []

    @field_validator("days")
    @classmethod
    def _weekday_names(cls, value: list[str]) -> list[str]:
        for day in value:
            if day not in WEEKDAYS:
                raise ValueError(f"{day!r} is not one of {', '.join(WEEKDAYS)}")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Hours:
        if not self.open < self.close:
            raise ValueError("open must be before close")
        if self.last_ticket is not None and not self.open <= self.last_ticket <= self.close:
            raise ValueError("last_ticket must lie between open and close")
        return self

    @property
    def ticket_until(self) -> dt.time:
        return self.last_ticket or self.close

    def is_workday(self, day: dt.date) -> bool:
        if day in self.holidays:
            return False
        return day in self.extra_workdays or WEEKDAYS[day.weekday()] in self.days


class PriorityClass(_Model):
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    # Lower rank is served first; "normal" is usually the largest.
    rank: int = Field(ge=0)
    label_zh: str
    label_en: str
    # May a self-service terminal assign it (elderly: from the ID card's birth date) or must
    # staff verify it (military, disabled, pregnant)?
    self_service: bool = False


class Rules(_Model):
    # May a window call a specific ticket out of order?
    allow_call_specific: bool = True
    # A ticket waiting this long overtakes every other class (anti-starvation).
    starvation_minutes: float = Field(default=30, gt=0)
    # A no-show may be put back in the queue once, within this many minutes.
    requeue_grace_minutes: float = Field(default=30, ge=0)
    one_open_ticket_per_service: bool = True
    # Age from which the ID card alone qualifies a resident as elderly (60 by law; some halls 70).
    elderly_age: int = Field(default=60, ge=50, le=100)
    # How many finished services the rolling mean service time looks back on.
    estimate_window: int = Field(default=20, ge=1)


ServiceId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*\.[a-z0-9_]+$")]


class Queue(_Model):
    prefix: Annotated[str, Field(pattern=r"^[A-Z]$")]
    name_zh: str
    name_en: str = ""
    services: list[ServiceId] = Field(min_length=1)


class Service(_Model):
    id: ServiceId
    # Names are the catalog's; these are only used while the catalog lacks the service.
    name_zh: str = ""
    name_en: str = ""
    daily_quota: int | None = Field(default=None, ge=1)
    # Mean service time used for estimates before the hall has measured any.
    service_minutes: float = Field(default=10, gt=0)
    # Bookings per appointment slot; 0 means the service takes no appointments.
    appointment_capacity: int = Field(default=0, ge=0)


class CounterKind(StrEnum):
    COMPREHENSIVE = "comprehensive"  # 综合窗口
    CERTIFICATE = "certificate"  # 制证窗口
    DEDICATED = "dedicated"  # 专窗


class Counter(_Model):
    # The window number residents see ("请 A001 号到 3 号窗口").
    id: int = Field(ge=1, le=999)
    kind: CounterKind = CounterKind.COMPREHENSIVE
    name_zh: str = ""
    # Skill tiers, most preferred first; each entry is a service id or a queue prefix.
    skills: list[list[str]] = Field(min_length=1)
    open_at_start: bool = True


class Appointments(_Model):
    slot_minutes: int = Field(default=30, ge=5, le=240)
    # Bookable from this many working days ahead up to days_ahead working days ahead.
    min_days_ahead: int = Field(default=1, ge=0)
    days_ahead: int = Field(default=5, ge=1, le=60)
    early_minutes: float = Field(default=15, ge=0)
    late_minutes: float = Field(default=10, ge=0)
    cancel_before_minutes: float = Field(default=120, ge=0)
    per_resident_per_day: int = Field(default=1, ge=1)
    per_resident_per_week: int = Field(default=2, ge=1)
    per_resident_per_month: int = Field(default=6, ge=1)
    # This many no-shows within ban_days loses the right to book for ban_days.
    no_show_limit: int = Field(default=2, ge=1)
    ban_days: int = Field(default=90, ge=1)
    priority: str = "appointment"

    @model_validator(mode="after")
    def _window(self) -> Appointments:
        if self.min_days_ahead > self.days_ahead:
            raise ValueError("min_days_ahead must not exceed days_ahead")
        return self


class Staff(_Model):
    login: Annotated[str, Field(pattern=r"^[a-z0-9_.-]{1,32}$")]
    name: str
    roles: list[str] = ["counter"]
    # Windows this person may work at; empty means any.
    counters: list[int] = []
    # scrypt hash of the password, written by `main.py init` or `main.py passwd`.
    password_hash: str

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        for role in value:
            if role not in ("counter", "manager"):
                raise ValueError(f"role {role!r} is not counter or manager")
        return value


# The device URL schemes each terminal device opens (devices.open.open_device):
# checked here so that a misspelt
# URL stops the start naming its field, before any window opens.
DEVICE_SCHEMES: dict[str, tuple[str, ...]] = {
    "reader": ("samv", "pcsc", "sim"),
    "printer": ("usb", "tcp", "serial", "file", "sim"),
    "scanner": ("serial", "evdev", "sim"),
}
# The devices each terminal role has; a navigator's printer may be "none" (slips only shown).
ROLE_DEVICES: dict[str, tuple[str, ...]] = {
    "kiosk": ("reader", "printer", "scanner"),
    "navigator": ("reader", "printer", "scanner"),
    "signage": (),
}


class Device(_Model):
    id: Annotated[str, Field(pattern=r"^[a-z0-9_.-]{1,64}$")]
    role: str
    token_hash: str
    # This terminal's devices by URL (docs/devices.md), e.g. reader = "samv:///dev/ttyUSB0".
    # Left out, the terminal refuses to start unless started with --demo (then: simulators).
    # "sim://" names a simulator on purpose; the screen then says 演示.
    reader: str | None = None
    printer: str | None = None
    scanner: str | None = None

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        if value not in ROLE_DEVICES:
            raise ValueError(f"role {value!r} is not kiosk, navigator or signage")
        return value

    @field_validator("reader", "printer", "scanner")
    @classmethod
    def _device_url(cls, url: str | None, info: ValidationInfo) -> str | None:
        kind, role = info.field_name, info.data.get("role")
        if url is None or role is None:  # no URL, or the role itself was refused
            return url
        if kind not in ROLE_DEVICES[role]:
            raise ValueError(f"a {role} terminal has no {kind}")
        if url == "none" and kind == "printer" and role == "navigator":
            return url
        scheme, sep, _ = url.partition("://")
        schemes = DEVICE_SCHEMES[kind]
        if not sep or scheme not in schemes:
            extra = ", or none" if kind == "printer" and role == "navigator" else ""
            raise ValueError(
                f"{url!r} is not a {kind} URL: use {', '.join(s + '://' for s in schemes)}{extra}"
            )
        return url


class Security(_Model):
    # Keys resident identities (HMAC of the document number); never leaves the hall.
    resident_key_secret: str = Field(min_length=32)


class Privacy(_Model):
    """What the hall keeps of residents' forms and papers, and for how long (docs/privacy.md).

    A form submitted with a ticket is stored encrypted (AES-256-GCM) and readable only by the
    window serving that ticket, which can only happen on the ticket's own day: a day's
    retention covers it with margin. Materials a window filed are remembered (by resident key,
    never the number) so that a kiosk can say "already on file"; a month covers a resident
    coming back to complete an application.
    """

    form_retention_hours: float = Field(default=24, gt=0, le=24 * 30)
    materials_retention_days: float = Field(default=30, gt=0, le=366)
    # The form key: 32 random bytes, base64. Left out, it is derived (HKDF-SHA256) from
    # security.resident_key_secret, so a hall has one secret fewer to keep; set it to rotate
    # the form key on its own. Changing either makes stored forms unreadable (they are
    # short-lived anyway).
    form_key: str | None = None

    @field_validator("form_key")
    @classmethod
    def _key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("form_key must be base64") from exc
        if len(raw) != 32:
            raise ValueError("form_key must be 32 bytes (44 base64 characters)")
        return value


class Storage(_Model):
    # SQLAlchemy URL; a bare path or sqlite:///relative.db is relative to the config file.
    url: str = "sqlite:///yikou.db"
    # SQLite durability: "full" survives power loss, "normal" survives a process crash.
    synchronous: str = "full"
    # Bounds on the database's waits (seconds), so a hung database ends in an error, not a hang:
    # connecting (PostgreSQL; also TCP keepalives and tcp_user_timeout), waiting for a lock
    # (PostgreSQL lock_timeout, the pool's wait; SQLite's busy timeout) and one statement
    # (PostgreSQL statement_timeout). A stopped server still answers at the TCP level, so these
    # alone cannot bound a wait: [server] command_timeout_s does, for every terminal.
    connect_timeout_s: float = Field(default=5, ge=2)
    lock_timeout_s: float = Field(default=10, gt=0)
    statement_timeout_s: float = Field(default=30, gt=0)

    @field_validator("synchronous")
    @classmethod
    def _sync(cls, value: str) -> str:
        if value not in ("full", "normal", "extra"):
            raise ValueError("synchronous must be full, normal or extra")
        return value


class ServerSettings(_Model):
    host: str = "0.0.0.0"
    port: int = Field(default=8765, ge=0, le=65535)
    # The address residents' phones reach (printed in the ticket's QR code).
    public_url: str = "http://127.0.0.1:8765"
    # Both set: the server speaks wss:// and https:// (only: plain HTTP on the port is refused),
    # so public_url must be https://. PEM files; a relative path is beside the config file.
    tls_cert: str | None = None
    tls_key: str | None = None
    # How often time acts on the hall (a new day, bookings past their grace).
    tick_seconds: float = Field(default=15, gt=0)
    # A command or query gets its answer, or `unavailable`, within this many seconds, whatever
    # the database does; /healthz answers (503 when the database does not) within its own.
    command_timeout_s: float = Field(default=5, gt=0)
    healthz_timeout_s: float = Field(default=2, gt=0)

    @model_validator(mode="after")
    def _tls_pair(self) -> ServerSettings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        if self.tls_cert is not None and not self.public_url.startswith("https://"):
            # Every ticket's QR code would point at a scheme the port refuses.
            raise ValueError(
                f"public_url {self.public_url!r} must start with https:// when tls_cert is set "
                "(the port then speaks only TLS)"
            )
        return self

    def client_url(self) -> str:
        """The websocket address a terminal or console opens to reach this server.

        - ``public_url`` set (the address residents' phones reach, so the hall's network
          reaches the server there too): its host and port with path ``/ws``, ``http`` giving
          ``ws`` and ``https`` ``wss`` (``http://10.0.0.5:8765/x`` -> ``ws://10.0.0.5:8765/ws``).
          With TLS (``tls_cert``) it must be ``https`` (validated), so a terminal speaks
          ``wss`` to the name the certificate is for; behind a proxy that ends TLS, too.
        - ``public_url`` left at its default (so no TLS): ``ws://host:port/ws`` on this
          machine; a wildcard ``host`` (``0.0.0.0``, ``::``, empty) is where the server
          listens, not an address to open, so it gives ``127.0.0.1``.
        """
        if "public_url" in self.model_fields_set:
            parts = urllib.parse.urlsplit(self.public_url)
            scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(
                parts.scheme, "ws"
            )
            return urllib.parse.urlunsplit((scheme, parts.netloc, "/ws", "", ""))
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        if ":" in host:  # an IPv6 address goes in brackets
            host = f"[{host}]"
        return f"ws://{host}:{self.port}/ws"


def credentials_path(config_path: Path) -> Path:
    """The credentials file beside a configuration (``main.py init`` writes it): devices'
    tokens and staff passwords, kept out of the configuration that every terminal reads."""
    return config_path.with_name(config_path.name + ".credentials")


def tls_context(settings: ServerSettings, *, source: str | None = None) -> ssl.SSLContext | None:
    """The server's TLS context, or None without TLS. A certificate or key that cannot be used
    (missing, unreadable, not PEM, a key of another certificate, a passphrase-protected key)
    raises ``ConfigError`` naming the setting and the file. Only the server calls this: the
    terminals share the config file but not the key."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    cert, key = settings.tls_cert, settings.tls_key

    def refuse(name: str, message: str) -> ConfigError:
        return ConfigError(message, field=f"server.{name}", source=source)

    texts = {}
    for name, path in (("tls_cert", cert), ("tls_key", key)):
        try:
            texts[name] = Path(path).read_text(encoding="latin-1")
        except OSError as exc:
            raise refuse(name, f"cannot read {path}: {exc.strerror}") from exc
    if "-----BEGIN CERTIFICATE-----" not in texts["tls_cert"]:
        raise refuse("tls_cert", f"{cert} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    if not re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", texts["tls_key"]):
        raise refuse("tls_key", f"{key} holds no PEM private key (-----BEGIN PRIVATE KEY-----)")
    if "ENCRYPTED" in texts["tls_key"]:
        # OpenSSL would otherwise ask for the passphrase on a terminal a service does not have.
        raise refuse(
            "tls_key", f"{key} is protected by a passphrase; the server needs it without one "
            "(openssl pkey -in KEY -out NEW), readable by the server's user only",
        )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_verify_locations(cafile=cert)  # parses every certificate in the file
    except (ssl.SSLError, OSError) as exc:
        raise refuse("tls_cert", f"{cert} is not a usable certificate: {_ssl_reason(exc)}") from exc
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key, password=lambda: b"")
    except (ssl.SSLError, OSError) as exc:
        raise refuse(
            "tls_key", f"{key} does not match the certificate {cert} or is not a usable key: "
            f"{_ssl_reason(exc)}",
        ) from exc  # fmt: skip
    return context


def _ssl_reason(exc: Exception) -> str:
    return str(getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc)


WEBHOOK_EVENTS = ("issued", "ahead", "called", "done")


class Webhook(_Model):
    """An external notifier (an SMS or WeChat gateway) told of ticket events by signed POSTs
    (queue_server.webhooks; docs/webhooks.md)."""

    url: Annotated[str, Field(pattern=r"^https?://")]
    # Signs each body: header X-Yikou-Signature: sha256=<hex HMAC-SHA256 of the body>.
    secret: str = Field(min_length=16)
    events: list[str] = Field(default_factory=lambda: list(WEBHOOK_EVENTS), min_length=1)
    # "ahead" fires once per ticket when this many people (or fewer) are ahead of it.
    ahead_at: int = Field(default=3, ge=1, le=50)
    # One POST's deadline, all of it: connect, TLS, request and the whole answer.
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    max_attempts: int = Field(default=6, ge=1, le=20)
    # First retry after this long, then twice as long each time (at most 300 s).
    backoff_s: float = Field(default=2.0, gt=0, le=300)
    # Deliveries waiting beyond this are dropped, oldest first (the hall never waits).
    queue_size: int = Field(default=1000, ge=1, le=100_000)

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        unknown = [e for e in value if e not in WEBHOOK_EVENTS]
        if unknown:
            raise ValueError(f"unknown events {unknown}; known: {', '.join(WEBHOOK_EVENTS)}")
        return value


class HallConfig(_Model):
    hall: HallInfo
    hours: Hours = Hours()
    rules: Rules = Rules()
    priority_classes: list[PriorityClass] = Field(min_length=1)
    queues: list[Queue] = Field(min_length=1)
    services: list[Service] = []
    counters: list[Counter] = Field(min_length=1)
    appointments: Appointments = Appointments()
    staff: list[Staff] = []
    devices: list[Device] = []
    security: Security
    privacy: Privacy = Privacy()
    storage: Storage = Storage()
    server: ServerSettings = ServerSettings()
    webhooks: list[Webhook] = []
    # Optional terminal sections, each read and validated by its own app
    # (signage/settings.py, kiosk/settings.py, navigator/settings.py).
    signage: dict[str, Any] = {}
    kiosk: dict[str, Any] = {}
    navigator: dict[str, Any] = {}

    @model_validator(mode="after")
    def _cross_checks(self) -> HallConfig:
        classes = [c.name for c in self.priority_classes]
        _unique(classes, "priority_classes", "name")
        if "normal" not in classes:
            raise _FieldError("priority_classes", "a class named 'normal' is required")
        if self.appointments.priority not in classes:
            raise _FieldError(
                "appointments.priority", f"unknown priority class {self.appointments.priority!r}"
            )
        _unique([q.prefix for q in self.queues], "queues", "prefix")
        seen: dict[str, str] = {}
        for qi, queue in enumerate(self.queues):
            for si, service in enumerate(queue.services):
                if service in seen:
                    raise _FieldError(
                        f"queues[{qi}].services[{si}]",
                        f"service {service!r} is already in queue {seen[service]}",
                    )
                seen[service] = queue.prefix
        for si, service in enumerate(self.services):
            if service.id not in seen:
                raise _FieldError(f"services[{si}].id", f"{service.id!r} is in no queue")
        _unique([s.id for s in self.services], "services", "id")
        _unique([c.id for c in self.counters], "counters", "id")
        prefixes = {q.prefix for q in self.queues}
        for ci, counter in enumerate(self.counters):
            for ti, tier in enumerate(counter.skills):
                for ki, skill in enumerate(tier):
                    if skill not in seen and skill not in prefixes:
                        raise _FieldError(
                            f"counters[{ci}].skills[{ti}][{ki}]",
                            f"unknown service or queue {skill!r}",
                        )
        served = {s for c in self.counters for s in self.expand_skills(c.skills)[0]}
        for service in seen:
            if service not in served:
                raise _FieldError("counters", f"no counter is skilled for service {service!r}")
        _unique([s.login for s in self.staff], "staff", "login")
        _unique([d.id for d in self.devices], "devices", "id")
        counter_ids = {c.id for c in self.counters}
        for si, staff in enumerate(self.staff):
            for window in staff.counters:
                if window not in counter_ids:
                    raise _FieldError(f"staff[{si}].counters", f"no counter {window}")
        return self

    # --- derived views the engine uses -------------------------------------------------------

    def service_ids(self) -> list[str]:
        return [s for q in self.queues for s in q.services]

    def queue_of(self) -> dict[str, str]:
        return {s: q.prefix for q in self.queues for s in q.services}

    def service_settings(self) -> dict[str, Service]:
        given = {s.id: s for s in self.services}
        return {sid: given.get(sid) or Service(id=sid) for sid in self.service_ids()}

    def expand_skills(self, tiers: list[list[str]]) -> tuple[dict[str, int], list[list[str]]]:
        """Resolve queue prefixes into services: ({service: tier}, tiers as service lists).

        A service named in two tiers keeps the better (lower) one.
        """
        by_queue = {q.prefix: q.services for q in self.queues}
        tier_of: dict[str, int] = {}
        for tier_no, tier in enumerate(tiers):
            for skill in tier:
                for service in by_queue.get(skill, [skill]):
                    tier_of.setdefault(service, tier_no)
        expanded = [[s for s, t in tier_of.items() if t == n] for n in range(len(tiers))]
        return tier_of, expanded

    def priority(self, name: str) -> PriorityClass | None:
        for cls in self.priority_classes:
            if cls.name == name:
                return cls
        return None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.hall.timezone)


class _FieldError(ValueError):
    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def _unique(values: list[Any], field: str, key: str) -> None:
    seen: set[Any] = set()
    for i, value in enumerate(values):
        if value in seen:
            raise _FieldError(f"{field}[{i}].{key}", f"duplicate {key} {value!r}")
        seen.add(value)


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def parse_config(data: dict[str, Any], *, source: str | None = None) -> HallConfig:
    """Validate a decoded TOML document; ``ConfigError`` names the first bad field."""
    try:
        return HallConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        ctx_error = (first.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _FieldError):
            raise ConfigError(str(ctx_error), field=ctx_error.field, source=source) from exc
        message = first["msg"].removeprefix("Value error, ")
        raise ConfigError(message, field=_loc_to_path(first["loc"]) or None, source=source) from exc


def load_config(path: str | Path) -> HallConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read the configuration: {exc.strerror}", source=str(path)
        ) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", source=str(path)) from exc
    config = parse_config(data, source=str(path))
    return resolve_tls_paths(resolve_storage_url(config, path.parent), path.parent)


def resolve_tls_paths(config: HallConfig, base: Path) -> HallConfig:
    """Make relative tls_cert and tls_key paths relative to the config file's folder."""
    server = config.server
    if server.tls_cert is None or server.tls_key is None:
        return config
    paths = {
        name: str((base / value).resolve()) if not Path(value).is_absolute() else value
        for name, value in (("tls_cert", server.tls_cert), ("tls_key", server.tls_key))
    }
    return config.model_copy(update={"server": server.model_copy(update=paths)})


def resolve_storage_url(config: HallConfig, base: Path) -> HallConfig:
    """Make a relative SQLite path relative to the config file's folder."""
    url = config.storage.url
    if "://" not in url:
        url = f"sqlite:///{url}"
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        rel = url.removeprefix("sqlite:///")
        if rel and rel != ":memory:":
            url = f"sqlite:///{(base / rel).resolve()}"
    storage = config.storage.model_copy(update={"url": url})
    return config.model_copy(update={"storage": storage})


def apply_catalog(config: HallConfig, catalog: Any) -> HallConfig:
    """Check the hall's services against the catalog and fill in what the hall left unsaid.

    A service the hall names but the catalog lacks stops the start with every missing id listed.
    For each service, the hall's own settings win; names, mean service time and daily quota
    otherwise come from the catalog, and a service the catalog says takes no appointments gets
    no appointment slots whatever the hall set.
    """
    from content.errors import ContentError

    try:
        catalog.check_hall_services(config.service_ids())
    except ContentError as exc:
        raise ConfigError(str(exc), field="queues") from exc
    given = {s.id: s for s in config.services}
    merged = []
    for service_id in config.service_ids():
        entry = catalog.service(service_id)
        values: dict[str, Any] = {
            "id": service_id,
            "name_zh": entry.name_zh,
            "name_en": entry.name_en,
            "service_minutes": entry.avg_service_minutes,
            "daily_quota": entry.daily_quota,
        }
        spec = given.get(service_id)
        if spec is not None:
            values.update(spec.model_dump(include=spec.model_fields_set - {"id"}))
        if not entry.appointment_allowed:
            values["appointment_capacity"] = 0
        merged.append(Service(**values))
    return config.model_copy(update={"services": merged})


def load_hall_config(path: str | Path, catalog: Any = None) -> HallConfig:
    """``load_config`` plus the catalog check every running terminal and server does."""
    if catalog is None:
        from content import default_catalog

        catalog = default_catalog()
    return apply_catalog(load_config(path), catalog)
