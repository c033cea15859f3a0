"""One message in both languages, shared by the kiosk and the navigator (Kivy-free).

Each app keeps its own word table (kiosk.texts, navigator.texts) built from ``Text`` values; the
flows hand only ``Text`` to the screens, which pick the resident's language. The words both apps
say alike for the same thing (browsing the catalog, the keyboard, the idle countdown, the
printer's problem) are here once, so a change of wording reaches both machines.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Text:
    zh: str
    en: str

    def get(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def format(self, **values: object) -> Text:
        return Text(self.zh.format(**values), self.en.format(**values))

    def with_desk(self, zh: str, en: str) -> Text:
        """Name the hall's help desk (``[kiosk] help_desk_zh/en``) where the text says {desk}."""
        return Text(self.zh.replace("{desk}", zh), self.en.replace("{desk}", en))


def table(raw: dict[str, tuple[str, str]]) -> dict[str, Text]:
    """An app's word table: the shared words, then its own (which may not redefine them)."""
    clash = sorted(set(raw) & set(SHARED_RAW))
    if clash:
        raise ValueError(f"word table redefines shared words: {', '.join(clash)}")
    return {key: Text(zh, en) for key, (zh, en) in {**SHARED_RAW, **raw}.items()}


# Words that mean the same on both machines: the header, catalog browsing, the on-screen
# keyboard, and the idle countdown.
SHARED_RAW: dict[str, tuple[str, str]] = {
    "lang_button": ("English", "中文"),
    "elderly_on": ("长辈模式", "Large print"),
    "elderly_off": ("退出长辈模式", "Standard size"),
    "greeting": ("您好，{name}", "Hello, {name}"),
    "demo_card": ("模拟刷卡", "Simulate card"),
    "demo_badge": ("演示", "Demo"),
    "choose_bureau": ("请选择办事部门", "Choose a department"),
    "search": ("搜索事项", "Search"),
    "search_title": ("输入拼音首字母搜索", "Type pinyin initials or English"),
    "search_hint": ("例如：居住证 → jzz", "e.g. residence permit → jzz or resid"),
    "search_none": ("没有找到，请换个词试试", "Nothing found; try another word"),
    "prev_page": ("上一页", "Previous"),
    "next_page": ("下一页", "Next"),
    "page": ("第 {page} / {pages} 页", "Page {page} of {pages}"),
    "back": ("返回", "Back"),
    "home": ("回首页", "Home"),
    "clear": ("清空", "Clear"),
    "delete": ("删除", "Delete"),
    "space": ("空格", "Space"),
    "materials": ("请带齐以下材料", "Please bring"),
    "e_copy_ok": ("可用电子证照", "e-copy accepted"),
    "instant": ("当场办结", "Finished on the spot"),
    "not_instant": ("{days} 个工作日内办结", "Finished within {days} working days"),
    "guide_caveat": ("具体材料和流程以窗口受理为准", "The window's requirements prevail"),
    "finish": ("完成", "Finish"),
    "idle_countdown": ("{s} 秒后返回首页", "Back to the start in {s} s"),
    "bad_code_title": ("无法识别这个二维码", "This QR code is not recognised"),
    "card_error_title": ("身份证没有读出来", "Your ID card was not read"),
    "ok": ("知道了", "OK"),
}

# devices.PrinterStatus.problem / print_error_kind -> the word for it.
PRINTER_PROBLEMS: dict[str, Text] = {
    "paper_out": Text("缺纸", "out of paper"),
    "cover_open": Text("盖子没有关好", "open (cover)"),
    "no_answer": Text("没有响应", "not answering"),
    "fault": Text("故障", "faulty"),
    "starting": Text("正在准备", "starting up"),
}
