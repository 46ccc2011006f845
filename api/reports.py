"""Printable reports: the yearly perimeter review (HTML, PDF, JSON) and the supplier scorecards (JSON,
CSV, HTML).

The content comes from store.reviews (analyzer.perimeter, analyzer.suppliers); this module only lays it
out.  HTML is a Jinja2 template of the web UI's folder with a print stylesheet, texts from the UI's
catalogue (English or French).  The PDF is that same HTML laid out by WeasyPrint, so the printed and
the on-screen review are one document (WeasyPrint needs the Pango library: `apt-get install
libpango-1.0-0 libpangoft2-1.0-0`, in the Dockerfile and `make system-deps`).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import jinja2

from analyzer.suppliers import CSV_COLUMNS, FINDING_WEIGHTS, FORMULA, WEIGHTS, csv_rows
from api.web.compiled import COMPILED
from api.web.i18n import DEFAULT_LANG, LANGS, Translator
from store.errors import InvalidError, SettingError

TEMPLATES_DIR = Path(__file__).resolve().parent / "web" / "templates"
PERIMETER_FORMATS = ("html", "pdf", "json")
SUPPLIER_FORMATS = ("json", "csv", "html")


def _env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True,
                              bytecode_cache=COMPILED)


def _render(template: str, lang: str, **context: Any) -> str:
    if lang not in LANGS:
        raise InvalidError(f"unknown language {lang!r} ({', '.join(LANGS)})", "lang")
    t = Translator.load().for_lang(lang)
    return _env().get_template(template).render(t=t, lang=lang, **context)


def perimeter_html(data: dict[str, Any], *, lang: str = DEFAULT_LANG) -> str:
    return _render("report_perimeter.html", lang, data=data)


def html_to_pdf(html: str) -> bytes:
    """The HTML laid out as PDF by WeasyPrint (print stylesheet, A4)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: the Pango library is missing
        raise SettingError("PDF output needs WeasyPrint and the Pango library "
                           f"(pip install 'medtap[pdf]'; apt-get install libpango-1.0-0): {exc}") from None
    return bytes(HTML(string=html, base_url=str(TEMPLATES_DIR)).write_pdf())


def perimeter_report(data: dict[str, Any], *, fmt: str, lang: str = DEFAULT_LANG) -> bytes:
    if fmt not in PERIMETER_FORMATS:
        raise InvalidError(f"unknown format {fmt!r} ({', '.join(PERIMETER_FORMATS)})", "format")
    if fmt == "json":
        return (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    html = perimeter_html(data, lang=lang)
    return html_to_pdf(html) if fmt == "pdf" else html.encode("utf-8")


def supplier_report(cards: list[dict[str, Any]], *, fmt: str, lang: str = DEFAULT_LANG) -> bytes:
    if fmt not in SUPPLIER_FORMATS:
        raise InvalidError(f"unknown format {fmt!r} ({', '.join(SUPPLIER_FORMATS)})", "format")
    if fmt == "json":
        body = {"formula": FORMULA, "weights": WEIGHTS, "finding_weights": FINDING_WEIGHTS,
                "suppliers": cards}
        return (json.dumps(body, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(csv_rows(cards))
        return out.getvalue().encode("utf-8")
    return _render("report_suppliers.html", lang, cards=cards, formula=FORMULA, weights=WEIGHTS,
                   finding_weights=FINDING_WEIGHTS).encode("utf-8")
