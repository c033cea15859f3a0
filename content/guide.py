"""A service guide (办事指南) as plain text, for the CLI, printouts and simple screens."""

from __future__ import annotations

from content.schema import Bureau, Service

CAVEAT_ZH = "本指南依据公开政策整理，仅供参考，具体材料和流程以窗口受理为准。"
CAVEAT_EN = (
    "This guide is compiled from public policy for reference only; "
    "the window's requirements on the day prevail."
)


def render_guide(service: Service, bureau: Bureau | None = None, *, lang: str = "zh") -> str:
    """The full guide of one service, in Chinese (default) or English."""
    return _render_en(service, bureau) if lang == "en" else _render_zh(service, bureau)


def _render_zh(s: Service, bureau: Bureau | None) -> str:
    lines = [f"{s.name_zh}（{s.id}）"]
    if bureau:
        short = "" if bureau.short_zh in bureau.name_zh else f"（{bureau.short_zh}）"
        lines.append(f"主管部门：{bureau.name_zh}{short}")
    lines += ["", s.description.zh, "", "【申请条件】"]
    lines += [f"  · {e}" for e in s.eligibility]
    lines += ["", "【申请材料】"]
    lines += [
        f"  {i}. {m.describe('zh')}" + ("  ※可用电子证照/既往电子材料" if m.reusable_e_copy else "")
        for i, m in enumerate(s.materials, 1)
    ]
    lines += ["", "【办理流程】"]
    lines += [f"  {i}. {step}" for i, step in enumerate(s.steps, 1)]
    lines += [
        "",
        "【办理时限】" + ("即办（当场办结）" if s.instant else f"{s.time_limit_days}个工作日"),
    ]
    if s.time_limit_note:
        lines.append(f"  {s.time_limit_note}")
    lines.append(f"【收费标准】{s.fees.zh}")
    lines.append(
        f"【受理窗口】{s.counter_kind.zh}" + ("；办结后制发证件" if s.makes_certificate else "")
    )
    lines.append(f"【预约办理】{'可预约' if s.appointment_allowed else '现场取号，不设预约'}")
    lines += ["", "【设定依据】"]
    lines += [f"  · {b}" for b in s.legal_basis]
    if s.form:
        lines += ["", "【需填写信息】"]
        lines.append(
            "  "
            + "、".join(
                f.label_zh + ("*" if f.required else "") + ("(读卡)" if f.from_id_card else "")
                for f in s.form
            )
        )
    if s.notes:
        lines += ["", "【温馨提示】"]
        lines += [f"  · {n}" for n in s.notes]
    lines += ["", CAVEAT_ZH]
    return "\n".join(lines)


def _render_en(s: Service, bureau: Bureau | None) -> str:
    lines = [f"{s.name_en} ({s.name_zh}, {s.id})"]
    if bureau:
        lines.append(f"Bureau: {bureau.name_en}")
    lines += ["", s.description.en, "", "Documents to bring:"]
    lines += [f"  {i}. {m.describe('en')}" for i, m in enumerate(s.materials, 1)]
    lines += [
        "",
        "Time limit: "
        + ("instant, done while you wait" if s.instant else f"{s.time_limit_days} working days"),
        f"Fees: {s.fees.en}",
        f"Window: {s.counter_kind.en}"
        + ("; a certificate is made afterwards" if s.makes_certificate else ""),
        f"Appointments: {'yes' if s.appointment_allowed else 'no, take a ticket on the day'}",
    ]
    if s.form:
        lines += ["", "Form: " + ", ".join(f.label_en for f in s.form)]
    lines += ["", "Eligibility, steps and legal basis are in the Chinese guide (--lang zh).", ""]
    lines.append(CAVEAT_EN)
    return "\n".join(lines)
