"""The hub beside the platform, as the hub's own tests have it."""

from tests.e2e.hub.conftest import hub, hub_url

__all__ = ["hub", "hub_url"]
