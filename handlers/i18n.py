"""The message catalog: every user-facing text, per language, in ``handlers/locales/<lang>.toml``.

Adding a language is adding a file. A key missing from a language falls back to English.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

LOCALES = Path(__file__).with_name("locales")
FALLBACK = "en"


@cache
def _catalog(language: str) -> dict[str, str]:
    path = LOCALES / f"{language}.toml"
    return tomllib.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def languages() -> list[str]:
    return sorted(path.stem for path in LOCALES.glob("*.toml"))


def pick_language(code: str | None) -> str:
    """The catalog language for a platform language code such as 'uk', 'uk-UA' or 'en-GB'."""
    base = (code or "").split("-")[0].lower()
    return base if base in languages() else FALLBACK


def t(language: str, key: str, **params: object) -> str:
    """The text for ``key`` in ``language`` with ``{params}`` filled in."""
    template = _catalog(language).get(key) or _catalog(FALLBACK).get(key)
    if template is None:
        raise KeyError(f"no text {key!r} in the message catalog")
    return template.format(**params) if params else template
