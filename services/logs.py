"""Logging for every process of the center (`python app.py`, gunicorn workers, rq workers): one format, and phone
numbers masked to their last four digits in every line, whoever logged it (our modules, werkzeug's access log with a
number in a URL, rq's job descriptions)."""

from __future__ import annotations

import logging
import re

from core.numbers import mask

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# E.164 (+ and 7–15 digits), also URL-encoded (%2B); long bare digit runs are left alone (ids, timestamps)
NUMBER = re.compile(r"(\+|%2B)(\d{7,15})\b")


class MaskNumbers(logging.Filter):
    """Rewrites a record's message with every phone number masked (the record is formatted here, once)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = NUMBER.sub(lambda found: found.group(1) + mask(found.group(2)), message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure(level: int = logging.INFO) -> None:
    """The root logger's handler, with numbers masked on every handler the process has."""
    logging.basicConfig(level=level, format=FORMAT)
    mask_everywhere()


def mask_everywhere() -> None:
    """Put the masking filter on every handler of the root logger and of gunicorn's loggers."""
    for name in (None, "gunicorn.error", "gunicorn.access"):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, MaskNumbers) for f in handler.filters):
                handler.addFilter(MaskNumbers())
