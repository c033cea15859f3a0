"""The commented example configuration that ``python main.py init PATH`` writes.

A street hall (街道社区服务中心) serving the eight pilot bureaus through six windows: five
comprehensive windows skilled in a long chain (each serves its own queue first and its
neighbour's as back-up: queueing theory (docs/dispatch.md "Choosing skills") shows this gives most of the benefit of full
pooling) and one certificate window; spare windows also back up the heavy case-intake queues C
and D (third tier), as the hall simulation advised (docs/simulation.md).
"""

from __future__ import annotations

import secrets

from queue_server.auth import hash_secret, new_token

STAFF = [("w1", "窗口1", [1]), ("w2", "窗口2", [2]), ("w3", "窗口3", [3]),
         ("w4", "窗口4", [4]), ("w5", "窗口5", [5]), ("w6", "制证窗口", [6])]  # fmt: skip
DEVICES = [("kiosk-1", "kiosk"), ("navigator-1", "navigator"), ("signage-main", "signage")]
# Where each terminal's devices are (docs/devices.md). Left commented out, the terminal starts
# only with --demo (simulators, every screen marked 演示): set them for a real hall.
DEVICE_URLS = {
    "kiosk": (
        '# reader = "samv:///dev/ttyUSB0"\n'
        '# printer = "usb://0416:5011?profile=gb18030-80"\n'
        '# scanner = "serial:///dev/ttyACM0?suffix=crlf"\n'
    ),
    "navigator": (
        '# reader = "samv:///dev/ttyUSB0"\n'
        '# printer = "tcp://192.168.1.50:9100"     # or "none": the booking\'s QR code only shown\n'
        '# scanner = "serial:///dev/ttyACM0?suffix=crlf"\n'
    ),
}

TEMPLATE = """\
# Yikou hall configuration (一口受理 大厅配置).
# Every key is checked on start; a misspelt key or a bad value stops the start with a message
# naming the field. Times are the hall's local time.

[hall]
id = "chaoyang-demo"              # carried by every database row: halls may share one database
name_zh = "朝阳区示范街道社区服务中心"
name_en = "Chaoyang Demo Street Community Service Centre"
timezone = "Asia/Shanghai"

[hours]
days = ["mon", "tue", "wed", "thu", "fri"]
open = 09:00:00
close = 17:00:00
last_ticket = 16:30:00            # tickets are issued until this time
holidays = [2026-10-01, 2026-10-02, 2026-10-05, 2026-10-06, 2026-10-07]
extra_workdays = []               # weekend days worked in lieu of a holiday (调休)

[rules]
allow_call_specific = true        # may a window call a ticket out of order?
starvation_minutes = 30           # a ticket waiting this long overtakes every priority class
requeue_grace_minutes = 30        # a skipped (过号) ticket may be put back once within this time
one_open_ticket_per_service = true
elderly_age = 60                  # 《老年人权益保障法》: 60; some halls use 70
estimate_window = 20              # finished services the rolling mean looks back on

# Priority classes: lower rank is called first. self_service = a kiosk may grant it by itself
# (elderly: from the birth date on the ID card); the others need staff to check a document.
[[priority_classes]]
name = "military"
rank = 1
label_zh = "军人优先"
label_en = "Military"

[[priority_classes]]
name = "disabled"
rank = 1
label_zh = "残疾人优先"
label_en = "Disabled"

[[priority_classes]]
name = "pregnant"
rank = 1
label_zh = "孕妇优先"
label_en = "Pregnant"

[[priority_classes]]
name = "elderly"
rank = 2
label_zh = "老年人优先"
label_en = "Elderly"
self_service = true

[[priority_classes]]
name = "appointment"
rank = 3
label_zh = "预约"
label_en = "Appointment"

[[priority_classes]]
name = "normal"
rank = 9
label_zh = "普通"
label_en = "Normal"
self_service = true

# Queues: each has a letter; its tickets are numbered A001, A002, ... from 1 every day.
[[queues]]
prefix = "A"
name_zh = "计生·老龄"
name_en = "Family planning & ageing"
services = ["jisheng.birth_registration", "jisheng.only_child_award",
            "laoling.senior_allowance", "laoling.senior_card"]

[[queues]]
prefix = "B"
name_zh = "人社"
name_en = "Employment & social security"
services = ["renshe.employment_registration", "renshe.social_insurance_card"]

[[queues]]
prefix = "C"
name_zh = "民政·残联"
name_en = "Civil affairs & disability"
services = ["minzheng.subsistence_allowance", "minzheng.temporary_assistance",
            "canlian.disability_certificate", "canlian.disability_subsidy"]

[[queues]]
prefix = "D"
name_zh = "房管·教委"
name_en = "Housing & education"
services = ["fangguan.public_rental_housing", "fangguan.rent_subsidy",{enquiry}
            "jiaowei.school_enrollment", "jiaowei.student_aid"]

[[queues]]
prefix = "E"
name_zh = "流管"
name_en = "Migrant population"
services = ["liuguan.residence_permit", "liuguan.residence_registration"]

# Per-service settings (names come from the catalog). daily_quota: tickets a day (omit for no
# limit); service_minutes: the mean used for estimates until the hall has measured its own;
# appointment_capacity: bookings per slot (0 = no appointments).
[[services]]
id = "liuguan.residence_permit"
daily_quota = 120
service_minutes = 8
appointment_capacity = 2

[[services]]
id = "liuguan.residence_registration"
service_minutes = 5

[[services]]
id = "renshe.employment_registration"
service_minutes = 6
appointment_capacity = 1

[[services]]
id = "renshe.social_insurance_card"
service_minutes = 5

[[services]]
id = "jisheng.birth_registration"
service_minutes = 6
appointment_capacity = 1

[[services]]
id = "minzheng.subsistence_allowance"
service_minutes = 20
appointment_capacity = 1

[[services]]
id = "fangguan.public_rental_housing"
service_minutes = 15
appointment_capacity = 1

[[services]]
id = "canlian.disability_certificate"
service_minutes = 12

[[services]]
id = "laoling.senior_allowance"
service_minutes = 5

# Counters (窗口): id is the window number residents see. skills: tiers, most preferred first;
# each entry a queue letter or a service id. A window serves its first tier; the later tiers
# only when nobody waits for the first (or a ticket has waited past starvation_minutes).
# The first two tiers make a long chain (A-B-C-D-E-A); a third tier sends spare windows to the
# case-intake queues C and D, which carry half the work (20-minute cases): the skills
# `main.py simulate --advise` found on the Chaoyang profile (docs/simulation.md).
[[counters]]
id = 1
kind = "comprehensive"
skills = [["A"], ["B"], ["D"]]

[[counters]]
id = 2
kind = "comprehensive"
skills = [["B"], ["C"], ["D"]]

[[counters]]
id = 3
kind = "comprehensive"
skills = [["C"], ["D"]]

[[counters]]
id = 4
kind = "comprehensive"
skills = [["D"], ["E"]]

[[counters]]
id = 5
kind = "comprehensive"
skills = [["E"], ["A"], ["C"]]

[[counters]]
id = 6
kind = "certificate"
name_zh = "制证窗口"
skills = [["renshe.social_insurance_card", "laoling.senior_card", "liuguan.residence_permit"],
          ["E", "C", "D"]]

[appointments]
slot_minutes = 30
min_days_ahead = 1                # book from the next working day ...
days_ahead = 5                    # ... up to five working days ahead
early_minutes = 15                # check in from 15 minutes before the slot
late_minutes = 10                 # ... until 10 minutes after its start; later = no-show
cancel_before_minutes = 120
per_resident_per_day = 1
per_resident_per_week = 2
per_resident_per_month = 6
no_show_limit = 2                 # two no-shows within ban_days: no booking for ban_days
ban_days = 90
priority = "appointment"          # the class a checked-in booking gets

# Staff logins. Passwords are stored only as scrypt hashes; the clear passwords were written
# once to the .credentials file beside this one. Reset one with a new hash from auth.hash_secret.
{staff}
# Terminals authenticate with a device token (hash here, clear token in .credentials). A kiosk's
# and a navigator's devices are named by URL in their entries; a device named nowhere stops the
# terminal unless it is started with --demo (docs/kiosk.md).
{devices}
[security]
# Keys resident identities (HMAC of the ID number). Keep it secret; changing it forgets every
# resident's bookings and tickets.
resident_key_secret = "{secret}"

[privacy]
# Forms residents submit at kiosks are stored encrypted, readable only by the window serving the
# ticket, and deleted after this many hours; materials a window filed are remembered (by key,
# never the ID number) this many days (docs/privacy.md).
form_retention_hours = 24
materials_retention_days = 30
# form_key = "..."                # 32 random bytes, base64; default: derived from the secret above

[storage]
url = "sqlite:///yikou.db"        # relative to this file; or postgresql+psycopg://user@host/db
synchronous = "full"              # full: survives power loss; normal: survives a crash only
# A PostgreSQL database must be UTF-8: createdb -E UTF8 -T template0 yikou
# Bounds on the database's waits, in seconds (PostgreSQL: connect, lock, statement timeouts;
# SQLite: lock_timeout_s is its busy timeout).
connect_timeout_s = 5
lock_timeout_s = 10
statement_timeout_s = 30

[server]
host = "0.0.0.0"
port = 8765
public_url = "http://127.0.0.1:8765"   # what residents' phones open from the ticket's QR code
# tls_cert = "/etc/yikou/hall.crt"    # both set: wss:// and https:// only (PEM files, checked at
# tls_key = "/etc/yikou/hall.key"     # start); public_url must then be https:// (docs/deploy.md)
tick_seconds = 15
command_timeout_s = 5     # every command and query: its answer, or "unavailable", within this
healthz_timeout_s = 2     # /healthz: 503 when the database has not answered within this
"""


ENQUIRY = '\n            "fangguan.progress_inquiry",'


def example_config() -> tuple[str, dict[str, str]]:
    """The example's text and the clear credentials it was made with ({login or device: secret})."""
    credentials: dict[str, str] = {}
    staff_blocks = []
    for login, name, counters in STAFF:
        password = new_token(9)
        credentials[login] = password
        staff_blocks.append(
            f'[[staff]]\nlogin = "{login}"\nname = "{name}"\nroles = ["counter"]\n'
            f'counters = {counters}\npassword_hash = "{hash_secret(password)}"\n'
        )
    password = new_token(9)
    credentials["manager"] = password
    staff_blocks.append(
        f'[[staff]]\nlogin = "manager"\nname = "值班长"\nroles = ["manager", "counter"]\n'
        f'password_hash = "{hash_secret(password)}"\n'
    )
    device_blocks = []
    for device_id, role in DEVICES:
        token = new_token()
        credentials[device_id] = token
        device_blocks.append(
            f'[[devices]]\nid = "{device_id}"\nrole = "{role}"\n'
            f'token_hash = "{hash_secret(token)}"\n' + DEVICE_URLS.get(role, "")
        )
    text = TEMPLATE.format(
        # An enquiry residents may take without their ID card (the kiosk's "no card" path).
        enquiry=ENQUIRY,
        staff="\n".join(staff_blocks),
        devices="\n".join(device_blocks),
        secret=secrets.token_urlsafe(32),
    )
    return text, credentials
