"""Every user-visible string of the wall screen, in zh-CN (default) and English."""

from __future__ import annotations

from collections.abc import Mapping

from layouts.casefile_text import CASEFILE_STRINGS
from layouts.leaders_text import LEADERS_STRINGS
from layouts.patrol_text import PATROL_STRINGS

LANGS = ("zh", "en")
"""Supported languages; the first is the default."""

WALL_STRINGS: Mapping[str, Mapping[str, str]] = {
    "zh": {
        "title": "兴隆台区网格化指挥中心",
        "subtitle": "创城实测点实时监控",
        "kiosk_on": "大屏模式",
        "lang_switch": "English",
        "map": "地图",
        "legend": "图例",
        "status.ok": "本轮已巡查 · 正常",
        "status.pending": "本轮未巡查",
        "status.open": "案件办理中（未超期）",
        "status.overdue": "案件超期",
        "status.hazard": "重大隐患",
        "warden.active": "网格员",
        "warden.silent": "网格员（5分钟无信号）",
        "kpi.title": "全区指标",
        "kpi.accepted": "受理案件",
        "kpi.closure_rate": "结案率",
        "kpi.self_handled": "自行处理",
        "kpi.mobile_disposal": "流动处置",
        "kpi.citizen_reported": "群众举报",
        "kpi.month_total": "本月 {n}",
        "period.today": "今日",
        "period.month": "本月",
        "period.now": "当前",
        "period.round": "本轮",
        "catchup.badge": "正在追赶历史数据",
        "catchup.title": "正在读取历史数据",
        "catchup.progress": "已读取 {p}%",
        "catchup.waiting": "正在读取，请稍候……",
        "catchup.note": "读取完毕后显示实时数据",
        "kpi.on_time_rate": "按期结案率",
        "kpi.satisfaction": "群众满意度",
        "kpi.overdue": "当前超期",
        "kpi.coverage": "本轮巡查覆盖",
        "kpi.none": "—",
        "streets.title": "街道排名（本月）",
        "col.rank": "排名",
        "col.street": "街道",
        "col.today": "今日受理",
        "col.month": "本月受理",
        "col.closure": "结案率",
        "col.on_time": "按期结案率",
        "col.satisfaction": "满意度",
        "col.overdue": "超期",
        "col.coverage": "巡查覆盖",
        "alerts.title": "超期预警",
        "alerts.empty": "暂无超期或临期案件",
        "alerts.more": "另有 {n} 件",
        "streets.more": "另有 {n} 个街道",
        "alerts.overdue_by": "超期 {d}",
        "alerts.left": "剩余 {d}",
        "alerts.age": "已受理 {d}",
        "alerts.hazard": "重大隐患",
        "alerts.open_case": "打开案件档案",
        "round.am": "上午巡查",
        "round.pm": "下午巡查",
        "last_update": "{n} 秒前更新",
        "last_update.never": "等待数据",
        "banner.server": "与服务器的连接已中断，正在自动重连……（显示最后一次数据）",
        "banner.redis": "数据源（Redis）不可用，正在自动重连……（显示最后一次数据）",
        "unit.d": "天",
        "unit.h": "小时",
        "unit.m": "分",
        "unit.s": "秒",
    },
    "en": {
        "title": "Xinglongtai Grid Command Center",
        "subtitle": "Live checkpoint monitoring",
        "kiosk_on": "Wall mode",
        "lang_switch": "中文",
        "map": "Map",
        "legend": "Legend",
        "status.ok": "Inspected this round · fine",
        "status.pending": "Not yet inspected this round",
        "status.open": "Open case, within limit",
        "status.overdue": "Open case, overdue",
        "status.hazard": "Hazard",
        "warden.active": "Warden",
        "warden.silent": "Warden, silent > 5 min",
        "kpi.title": "District",
        "kpi.accepted": "Accepted",
        "kpi.closure_rate": "Closure rate",
        "kpi.self_handled": "Self-handled",
        "kpi.mobile_disposal": "Mobile disp.",
        "kpi.citizen_reported": "Citizen reports",
        "kpi.month_total": "month {n}",
        "period.today": "today",
        "period.month": "month",
        "period.now": "now",
        "period.round": "round",
        "catchup.badge": "catching up with history",
        "catchup.title": "Reading the history",
        "catchup.progress": "{p}% read",
        "catchup.waiting": "Reading, please wait…",
        "catchup.note": "Live figures appear once the history is read",
        "kpi.on_time_rate": "On-time rate",
        "kpi.satisfaction": "Satisfaction",
        "kpi.overdue": "Overdue",
        "kpi.coverage": "Patrol",
        "kpi.none": "—",
        "streets.title": "Streets ranked (this month)",
        "col.rank": "#",
        "col.street": "Street",
        "col.today": "Today",
        "col.month": "Month",
        "col.closure": "Closed",
        "col.on_time": "On time",
        "col.satisfaction": "Satisfied",
        "col.overdue": "Overdue",
        "col.coverage": "Patrol",
        "alerts.title": "Deadline alerts",
        "alerts.empty": "No case past or near its deadline",
        "alerts.more": "{n} more",
        "streets.more": "{n} more streets",
        "alerts.overdue_by": "overdue {d}",
        "alerts.left": "{d} left",
        "alerts.age": "age {d}",
        "alerts.hazard": "HAZARD",
        "alerts.open_case": "Open the case file",
        "round.am": "Morning round",
        "round.pm": "Afternoon round",
        "last_update": "updated {n} s ago",
        "last_update.never": "waiting for data",
        "banner.server": "Connection to the server lost; reconnecting by itself (showing the last data)",
        "banner.redis": "Data source (Redis) unavailable; reconnecting by itself (showing the last data)",
        "unit.d": "d",
        "unit.h": "h",
        "unit.m": "m",
        "unit.s": "s",
    },
}
"""The string table: ``STRINGS[lang][key]``."""


# Every page's strings in one table (each page keeps its own in ``layouts/<page>_text.py``).
STRINGS: Mapping[str, Mapping[str, str]] = {
    lang: {**WALL_STRINGS[lang], **LEADERS_STRINGS[lang], **CASEFILE_STRINGS[lang], **PATROL_STRINGS[lang]}
    for lang in LANGS
}

def normalize_lang(value: str | None, default: str = "zh") -> str:
    """Map a ``lang`` query value (``en``, ``zh-CN``, ``zh`` …) to a supported language."""
    if value:
        head = value.strip().lower().split("-")[0].split("_")[0]
        if head in STRINGS:
            return head
    return default if default in STRINGS else LANGS[0]


def t(key: str, lang: str, **values: object) -> str:
    """Return the string ``key`` in ``lang`` (falling back to zh-CN), formatted with ``values``."""
    table = STRINGS.get(lang, STRINGS["zh"])
    text = table.get(key) or STRINGS["zh"].get(key) or key
    return text.format(**values) if values else text


def duration(seconds: float, lang: str) -> str:
    """Format a duration at minute granularity (``2天3小时``, ``3h 05m``, ``12m``)."""
    minutes = max(0, int(abs(seconds) // 60))
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    sep = "" if lang == "zh" else " "
    if days:
        return f"{days}{t('unit.d', lang)}{sep}{hours}{t('unit.h', lang)}"
    if hours:
        return f"{hours}{t('unit.h', lang)}{sep}{mins:02d}{t('unit.m', lang)}"
    return f"{mins}{t('unit.m', lang)}"


def name_of(entity: object, lang: str, fallback: str) -> str:
    """Return an entity's ``name_en`` or ``name_zh`` (per ``lang``), else ``fallback``."""
    if entity is None:
        return fallback
    if isinstance(entity, Mapping):
        found = entity.get(f"name_{lang}") or entity.get("name_zh") or entity.get("name_en")
        return str(found or fallback)
    primary = getattr(entity, f"name_{lang}", None)
    other = getattr(entity, "name_zh" if lang == "en" else "name_en", None)
    return str(primary or other or fallback)
