"""``GET /prompts/<name>``: a rendered prompt (8 kHz μ-law WAV), named by the hash of its text, voice and rate.

``X-Prompt-Text`` carries the words (URL-encoded) so the simulator can show what the caller heard.
"""

from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, send_from_directory

from web.context import services

bp = Blueprint("prompts", __name__)

PROMPT_MAX_AGE_S = 365 * 24 * 3600  # file names are content hashes: cache for good


@bp.get("/prompts/<name>")
def prompt(name: str) -> Response:
    prompts = services().prompts
    response = send_from_directory(prompts.folder, name, mimetype="audio/wav", max_age=PROMPT_MAX_AGE_S)
    response.headers["Cache-Control"] = f"public, max-age={PROMPT_MAX_AGE_S}, immutable"
    words = prompts.words(name)
    if words is not None:
        response.headers["X-Prompt-Text"] = quote(words)
    return response
