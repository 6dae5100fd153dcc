"""The report of a batch: every unit ranked, the worst served first (HTML and XLSX).

One row per unit (county, district, city): its population, the mean and lowest share of
residents within reach over the categories (each at the threshold it is judged at), the
plan targets met and not met, and each category's share; units that failed come first
with their reason, so that none is overlooked. Every string from the data (unit names,
errors) is escaped; the page has no script.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from service_circle._escape import html_text
from service_circle.folders import atomic_write
from service_circle.tables import percent
from service_circle.writers import write_xlsx

#: Column headers for people: (Chinese, English).
HEADERS = {
    "rank": ("排名", "rank"),
    "key": ("代码", "key"),
    "name": ("名称", "name"),
    "status": ("状态", "status"),
    "population": ("人口", "population"),
    "mean_share": ("平均覆盖率", "mean share covered"),
    "lowest_share": ("最低覆盖率", "lowest share"),
    "targets_met": ("达标指标数", "targets met"),
    "targets_not_met": ("未达标指标数", "targets not met"),
    "gaps": ("缺口片区数", "gap areas"),
    "seconds": ("用时(秒)", "seconds"),
    "error": ("原因", "reason"),
}
STATUS = {"done": ("完成", "done"), "failed": ("失败", "failed"), "not run": ("未运行", "not run")}
TITLE = ("一刻钟便民生活圈 — 批量评估（覆盖最差者在前）",
         "15-minute living circles — every unit, the worst served first")  # fmt: skip


def people_table(summary: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The summary with headers in ``lang``, shares in %, the categories last."""
    i = 0 if lang == "zh" else 1
    out = pd.DataFrame()
    for col, names in HEADERS.items():
        if col not in summary:
            continue
        values = summary[col]
        if col.endswith("share"):
            values = values.map(percent)
        elif col == "status":
            values = values.map(lambda s: STATUS.get(s, (s, s))[i])
        elif col == "population":
            values = values.map(lambda v: "" if pd.isna(v) else f"{v:,.0f}")
        out[names[i]] = values
    for col in [c for c in summary.columns if c.startswith("share_")]:
        out[col[len("share_") :]] = summary[col].map(percent)
    return out


def write_batch_report(summary: pd.DataFrame, folder: str | os.PathLike, *, lang: str) -> None:
    """``report.html`` and ``report.xlsx`` of a batch into ``folder``, each atomically."""
    folder = Path(folder)
    table = people_table(summary, lang)
    i = 0 if lang == "zh" else 1
    attribution = sorted({a for a in summary.get("attribution", pd.Series(dtype=object))
                          if isinstance(a, str) and a})  # fmt: skip
    head = "".join(f"<th>{html_text(c)}</th>" for c in table.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html_text(v)}</td>" for v in row) + "</tr>"
        for row in table.itertuples(index=False, name=None)
    )
    data = ("数据：" if i == 0 else "Data: ") + "; ".join(attribution)
    page = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{html_text(TITLE[i])}</title><style>"
        "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:.25em .5em;text-align:right}"
        "td:nth-child(2),td:nth-child(3),td:nth-child(4){text-align:left}"
        "</style></head><body>"
        f"<h1>{html_text(TITLE[i])}</h1><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{body}</tbody></table><p>{html_text(data)}</p></body></html>"
    )
    with atomic_write(folder / "report.html") as fh:
        fh.write(page)
    sheet = "批量评估" if i == 0 else "units"
    write_xlsx({sheet: table}, folder / "report.xlsx")
