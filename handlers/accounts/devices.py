"""A readable device name from a User-Agent ("Firefox on Linux", "Quark app on iOS"), for the
session list. Only the name is kept, not the whole User-Agent (it fingerprints people)."""

from __future__ import annotations

import re

# First match wins: order matters (Edge and Opera also say "Chrome", Chrome also "Safari").
_BROWSERS = (
    ("Edge", r"\bEdg(e|A|iOS)?/"),
    ("Opera", r"\bOPR/|\bOpera\b"),
    ("Yandex Browser", r"\bYaBrowser/"),
    ("Samsung Internet", r"\bSamsungBrowser/"),
    ("Firefox", r"\bFirefox/|\bFxiOS/"),
    ("Chrome", r"\bChrome/|\bCriOS/"),
    ("Safari", r"\bVersion/[\d.]+.*\bSafari/"),
)
_SYSTEMS = (
    ("iPadOS", r"\biPad\b"),
    ("iOS", r"\biPhone\b|\biPod\b|\biOS\b"),
    ("Android", r"\bAndroid\b"),
    ("Windows", r"\bWindows\b"),
    ("macOS", r"\bMac OS X\b|\bMacintosh\b"),
    ("ChromeOS", r"\bCrOS\b"),
    ("Linux", r"\bLinux\b"),
)
_APP = re.compile(r"^Quark(?:App)?/[\w.]+", re.IGNORECASE)
MAX_NAME = 80


def device_name(user_agent: str) -> str:
    ua = user_agent.strip()
    if not ua:
        return "Unknown device"
    system = next((name for name, pattern in _SYSTEMS if re.search(pattern, ua)), None)
    if _APP.match(ua):
        client = "Quark app"
    else:
        client = next((name for name, pattern in _BROWSERS if re.search(pattern, ua)), None)
    if client is None:
        # A tool or library: its first product token ("curl/8.5.0" -> "curl").
        client = re.split(r"[/\s;(]", ua, maxsplit=1)[0][:40] or "Unknown client"
    return (f"{client} on {system}" if system else client)[:MAX_NAME]
