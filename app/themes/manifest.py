"""The themes on disk (``themes/<name>/theme.json``): what each is called and which tokens it takes.

A manifest names the theme (Vietnamese and English label), its layout template
and stylesheet, every design token with its kind and default, and the colour
pairs that must meet WCAG AA contrast. Manifests are read once, checked, and
kept; a broken manifest is a startup error, never a half-drawn page.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

THEMES_DIR = Path(__file__).resolve().parents[2] / "themes"
DEFAULT_THEME = "trang-trong"
KINDS = ("color", "image", "text", "multiline", "phone", "email")
# Every theme must check at least these pairs (foreground token, background token).
REQUIRED_PAIRS = (("text", "background"), ("on_primary", "primary"), ("link", "background"))
REQUIRED_TOKENS = ("primary", "on_primary", "accent", "background", "text", "link", "logo", "banner")
_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@dataclass(frozen=True)
class TokenSpec:
    key: str
    kind: str
    default: str
    label: tuple[str, str]  # (vi, en)
    max_chars: int = 0  # text kinds only


@dataclass(frozen=True)
class Theme:
    name: str
    label: tuple[str, str]
    description: tuple[str, str]
    layout: str  # Jinja name, through the "themes/" prefix loader
    stylesheet: str  # path under the theme's static/ folder
    tokens: dict[str, TokenSpec]
    contrast: tuple[tuple[str, str], ...]

    def defaults(self) -> dict[str, str]:
        return {key: spec.default for key, spec in self.tokens.items()}

    def keys_of(self, kind: str) -> list[str]:
        return [key for key, spec in self.tokens.items() if spec.kind == kind]


class BrokenManifest(Exception):
    """A theme on disk is not usable; raised at first use so the deploy fails loudly."""


def _pair(value, where: str) -> tuple[str, str]:
    if not isinstance(value, dict) or not all(isinstance(value.get(k), str) for k in ("vi", "en")):
        raise BrokenManifest(f"{where}: needs {{'vi': …, 'en': …}}")
    return value["vi"], value["en"]


def load_theme(folder: Path) -> Theme:
    where = str(folder / "theme.json")
    try:
        raw = json.loads((folder / "theme.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BrokenManifest(f"{where}: {exc}") from exc
    name = raw.get("name")
    if name != folder.name or not _NAME.fullmatch(name or ""):
        raise BrokenManifest(f"{where}: name must be the folder's name ({folder.name!r})")
    tokens: dict[str, TokenSpec] = {}
    for key, spec in (raw.get("tokens") or {}).items():
        kind, default = spec.get("kind"), spec.get("default", "")
        if kind not in KINDS or not isinstance(default, str):
            raise BrokenManifest(f"{where}: token {key!r} has kind {kind!r}; kinds are {KINDS}")
        max_chars = int(spec.get("max", 0))
        if kind not in ("color", "image") and max_chars <= 0:
            raise BrokenManifest(f"{where}: text token {key!r} needs a positive 'max'")
        tokens[key] = TokenSpec(key, kind, default, _pair(spec.get("label"), f"{where} {key}"), max_chars)
    missing = [key for key in REQUIRED_TOKENS if key not in tokens]
    if missing:
        raise BrokenManifest(f"{where}: missing tokens {missing}")
    contrast = tuple(tuple(pair) for pair in raw.get("contrast", []))
    for pair in contrast:
        if len(pair) != 2 or any(tokens.get(k) is None or tokens[k].kind != "color" for k in pair):
            raise BrokenManifest(f"{where}: contrast pair {pair!r} must name two colour tokens")
    for pair in REQUIRED_PAIRS:
        if pair not in contrast:
            raise BrokenManifest(f"{where}: contrast must include {pair!r}")
    for part in ("layout", "stylesheet"):
        if not (folder / raw.get(part, "")).is_file():
            raise BrokenManifest(f"{where}: {part} {raw.get(part)!r} not found")
    if not raw["stylesheet"].startswith("static/"):
        raise BrokenManifest(f"{where}: the stylesheet must be under static/")
    return Theme(
        name=name,
        label=_pair(raw.get("label"), f"{where} label"),
        description=_pair(raw.get("description"), f"{where} description"),
        layout=f"themes/{name}/{raw['layout']}",
        stylesheet=raw["stylesheet"].removeprefix("static/"),
        tokens=tokens,
        contrast=contrast,
    )


@functools.cache
def all_themes() -> dict[str, Theme]:
    """Every theme under ``themes/``, by name (the default first)."""
    found = {
        folder.name: load_theme(folder)
        for folder in sorted(THEMES_DIR.iterdir())
        if folder.is_dir() and (folder / "theme.json").exists()
    }
    if DEFAULT_THEME not in found:
        raise BrokenManifest(f"the default theme {DEFAULT_THEME!r} is missing from {THEMES_DIR}")
    return {DEFAULT_THEME: found.pop(DEFAULT_THEME), **found}


def find_theme(name: str) -> Theme | None:
    return all_themes().get(name)


def default_theme() -> Theme:
    return all_themes()[DEFAULT_THEME]
