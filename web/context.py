"""The Flask app of the center carries its services as one typed attribute (no string-keyed lookups)."""

from __future__ import annotations

from typing import cast

from flask import Flask, current_app

from services.bootstrap import Services


class CenterApp(Flask):
    services: Services


def services() -> Services:
    """The services of the app handling this request."""
    return cast(CenterApp, current_app).services
