"""Web UI translations (French and English) and language negotiation.

Every string the UI shows lives in `locales/<lang>.yaml` (flat keys, `str.format`
placeholders).  A text that depends on a count is two keys, `<key>.one` and `<key>.other`,
chosen by the CLDR plural rules of the language (Babel) when the call passes an integer `n`.
The language is the `medtap_lang` cookie when set (the header
switch), otherwise the best match of the browser's Accept-Language (RFC 9110
section 12.5.4, q-values), otherwise English.  A missing key shows the key itself,
and a test keeps both files and the templates in step.  The sheet import reasons are not in the
locale files: their one catalogue, in both languages, is analyzer.sheet_reasons (`sheet_error.*` keys).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collector.yamlsafe import load_file

LANGS = ("fr", "en")
DEFAULT_LANG = "en"
LANG_COOKIE = "medtap_lang"
LOCALES_DIR = Path(__file__).resolve().parent / "locales"


_CACHE: dict[tuple[str, int, int], dict[str, str]] = {}
"""Parsed catalogues by (path, mtime, size): the strict YAML loader is pure Python (about 0.3 s for
the two files) and every app (each test, each `serve` worker) would otherwise parse them again."""


def load_catalogue(lang: str, folder: Path = LOCALES_DIR) -> dict[str, str]:
    """The flat key -> text table of one language (refuses anything but a mapping of strings).

    Parsed once per file version (cached by path, mtime and size); each call returns its own copy.
    """
    path = folder / f"{lang}.yaml"
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _CACHE:
        _CACHE[key] = _parse_catalogue(lang, folder)
    return dict(_CACHE[key])


def _parse_catalogue(lang: str, folder: Path) -> dict[str, str]:
    data = load_file(folder / f"{lang}.yaml") or {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{folder / lang}.yaml: expected a mapping of keys to strings")
    out: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(value, str):
            raise ValueError(f"{folder / lang}.yaml: {key}: expected a string")
        out[str(key)] = value
    return out


def sheet_error_keys(lang: str) -> dict[str, str]:
    """The sheet import reasons and pseudo-field names of one language, as `sheet_error.<code>` and
    `sheet_error.field.<name>` keys: their one definition is analyzer.sheet_reasons (the CLI and the API
    render the same texts), merged here rather than copied into the locale files."""
    from analyzer.sheet_reasons import FIELDS, REASONS

    out = {f"sheet_error.{code}": texts[lang] for code, texts in REASONS.items() if lang in texts}
    out.update({f"sheet_error.field.{name}": texts[lang] for name, texts in FIELDS.items() if lang in texts})
    return out


def parse_accept_language(header: str | None) -> list[str]:
    """Primary language tags in preference order (q=0 dropped, stable for equal q)."""
    if not header:
        return []
    scored: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        items = part.strip().split(";")
        tag = items[0].strip().lower()
        if not tag:
            continue
        q = 1.0
        for param in items[1:]:
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            scored.append((-q, index, tag.split("-")[0]))
    return [tag for _, _, tag in sorted(scored)]


def negotiate(cookie: str | None, accept_language: str | None) -> str:
    """The UI language: the cookie if valid, else the first supported Accept-Language tag, else English."""
    if cookie in LANGS:
        return str(cookie)
    for tag in parse_accept_language(accept_language):
        if tag in LANGS:
            return tag
    return DEFAULT_LANG


def plural_form(lang: str, n: int) -> str:
    """CLDR plural category of `n` in `lang` (Babel): 'one' or 'other' here (French: 0 and 1 are 'one')."""
    from babel import Locale

    return str(Locale.parse(lang).plural_form(abs(n)))


@dataclass
class Translator:
    """The two catalogues, loaded once per app (kept on app.state, not in a module global)."""

    catalogues: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path = LOCALES_DIR) -> Translator:
        catalogues = {lang: load_catalogue(lang, folder) for lang in LANGS}
        for lang, table in catalogues.items():
            table.update(sheet_error_keys(lang))
        return cls(catalogues)

    def gettext(self, lang: str, key: str, **params: Any) -> str:
        table = self.catalogues.get(lang) or self.catalogues.get(DEFAULT_LANG, {})
        if isinstance(params.get("n"), int) and f"{key}.other" in table:
            key = f"{key}.{plural_form(lang, params['n'])}"  # "1 fiche importée", "2 fiches importées"
            if key not in table:
                key = key.rsplit(".", 1)[0] + ".other"
        text = table.get(key) or self.catalogues.get(DEFAULT_LANG, {}).get(key) or key
        if params:
            try:
                return text.format(**params)
            except (KeyError, IndexError, ValueError):
                return text
        return text

    def for_lang(self, lang: str) -> Bound:
        return Bound(self, lang)


@dataclass(frozen=True)
class Bound:
    """A translator bound to one language: what templates call as `t("key", n=3)`."""

    translator: Translator
    lang: str

    def __call__(self, key: str, **params: Any) -> str:
        return self.translator.gettext(self.lang, key, **params)

    def has(self, key: str) -> bool:
        return key in self.translator.catalogues.get(self.lang, {})
