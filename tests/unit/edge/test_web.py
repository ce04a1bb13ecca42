"""The web app's files, read as text: the edge and the app's router agree on the screens,
only dom.js may insert HTML, and both catalogs hold every key the app uses, with every
plural form their language needs."""

from __future__ import annotations

import json
import re
from pathlib import Path

from edge.web import CLIENT_ROUTES, SHELL_POLICY, WEB_DIR, catalogs, load_files

APP = WEB_DIR / "app"
SCRIPTS = sorted(APP.rglob("*.js"))
#: The plural categories Intl.PluralRules gives for whole numbers in each language.
PLURAL_FORMS = {"en": {"one", "other"}, "ru": {"one", "few", "many", "other"}}


def catalog(lang: str) -> dict[str, object]:
    return catalogs()[lang]


def test_the_edge_serves_exactly_the_screens_the_router_knows() -> None:
    routes_js = (APP / "routes.js").read_text(encoding="utf-8")
    patterns = re.findall(r'\{ path: "([^"]+)"', routes_js)
    assert patterns and sorted(patterns) == sorted(CLIENT_ROUTES)


def test_only_dom_js_inserts_html() -> None:
    sinks = re.compile(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\("
    )
    offenders = [
        f"{path.relative_to(WEB_DIR)}:{n}"
        for path in SCRIPTS
        if path.name != "dom.js"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if sinks.search(line)
    ]
    assert offenders == []
    assert (APP / "dom.js").read_text(encoding="utf-8").count("innerHTML =") == 1


def test_both_catalogs_hold_the_same_keys_with_every_plural_form() -> None:
    en, ru = catalog("en"), catalog("ru")
    assert set(en) == set(ru)
    for lang, entries in (("en", en), ("ru", ru)):
        for key, value in entries.items():
            if isinstance(value, dict):
                assert set(value) >= PLURAL_FORMS[lang], (lang, key)
                assert all(isinstance(v, str) and v for v in value.values()), (lang, key)
            else:
                assert isinstance(value, str) and value.strip(), (lang, key)


def test_every_key_the_app_names_is_in_the_catalog() -> None:
    en = catalog("en")
    used: set[str] = set()
    for path in SCRIPTS:
        text = re.sub(
            r"/\*.*?\*/|^\s*//.*$", "", path.read_text(encoding="utf-8"), flags=re.S | re.M
        )
        used |= set(re.findall(r'\bt\(\s*"([a-z0-9_.\-]+)"', text))
        used |= set(re.findall(r'"((?:nav|auth|error)\.[a-z0-9_.\-]+)"', text))
    html = (WEB_DIR / "index.html").read_text(encoding="utf-8")
    used |= set(re.findall(r'data-i18n="([^"]+)"', html))
    missing = sorted(k for k in used if k not in en and not k.endswith("."))
    assert missing == []


def test_the_service_worker_names_every_file_and_a_version_of_them_all(tmp_path: Path) -> None:
    files = load_files()
    worker = files["/sw.js"].body.decode()
    listed = json.loads(re.search(r"const SHELL_FILES = (\[.*\]);", worker).group(1))
    assert "/" in listed and "/app/main.js" in listed and "/i18n/ru.json" in listed
    assert all(path in files or path == "/" for path in listed)
    version = re.search(r'const VERSION = "([0-9a-f]{16})";', worker)
    assert version is not None


def test_the_shell_policy_allows_no_inline_script_or_eval() -> None:
    script = next(p for p in SHELL_POLICY.split("; ") if p.startswith("script-src"))
    assert script == "script-src 'self'"
    assert "unsafe" not in SHELL_POLICY
    html = (WEB_DIR / "index.html").read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "an inline script"
    assert " style=" not in html and "<style" not in html


def _tokens() -> dict[str, tuple[str, str]]:
    css = (WEB_DIR / "styles" / "tokens.css").read_text(encoding="utf-8")
    return {
        name: (light, dark)
        for name, light, dark in re.findall(
            r"--([\w-]+):\s*light-dark\((#[0-9a-f]{6}),\s*(#[0-9a-f]{6})\)", css
        )
    }


def _luminance(colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_text_keeps_a_readable_contrast_in_both_themes() -> None:
    """WCAG AA (4.5:1) for every pairing the stylesheet uses for text."""
    tokens = _tokens()
    pairs = [
        ("text", "bg"),
        ("text", "surface"),
        ("text", "surface-2"),
        ("text-muted", "bg"),
        ("text-muted", "surface"),
        ("accent", "bg"),
        ("accent", "surface"),
        ("accent-text", "accent"),
        ("danger", "surface"),
        ("danger-text", "danger"),
        ("text", "accent-soft"),
        ("text", "mark"),
        ("bg", "warn"),
        ("bg", "text"),
    ]
    for theme in (0, 1):
        for fg, bg in pairs:
            ratio = _contrast(tokens[fg][theme], tokens[bg][theme])
            assert ratio >= 4.5, (("light", "dark")[theme], fg, bg, round(ratio, 2))
