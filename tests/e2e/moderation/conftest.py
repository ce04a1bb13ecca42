"""Moderation tests sign up many people from one address (generous limits)."""

from __future__ import annotations

import pytest

from core.settings import Settings
from tests.support.identity import lifted_limits


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return lifted_limits(settings, limit_reports="1000/h")
