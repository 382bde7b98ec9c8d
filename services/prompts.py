"""Prompt audio for ``<Play>``: the rendered file's URL. A prompt not rendered yet (a dynamic one: a caller's place in
line, a booked time, an order's status; or a fixed one before ``flask prompts build``) is rendered at once with
espeak-ng (``speech.tts.render_now``, tens of milliseconds, bounded); only if that fails is None returned (the caller
hears ``<Say>`` where Twilio has a voice for the language) and the batch rendering queued once on the bulk queue.
Files are named by a hash of their text and voice and never change; beside each, a text file keeps the words (the
simulator shows what a caller heard)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from pathlib import Path

from core.turn import said_ms
from core.urls import Urls
from services.jobqueue import JobQueue
from speech import tts
from speech.exceptions import SpeechError

log = logging.getLogger(__name__)

LOOK_AGAIN_S = 5.0  # a prompt not rendered yet is looked for on disk again after this long, not on every webhook


class PromptAudio:
    def __init__(self, folder: str, urls: Urls, jobs: JobQueue) -> None:
        self.folder = Path(folder)
        self.urls = urls
        self.jobs = jobs
        self._known: dict[tuple[str, str], str] = {}  # rendered prompts' URLs (files never change)
        self._missing: dict[tuple[str, str], float] = {}  # not rendered when last looked (monotonic time); queued once
        self._lengths: dict[str, int] = {}  # rendered prompts' lengths in ms, by file name

    def find(self, text: str, language: str) -> str | None:
        key = (text, language)
        if key in self._known:
            return self._known[key]
        looked = self._missing.get(key)
        if looked is not None and time.monotonic() - looked < LOOK_AGAIN_S:
            return None
        try:
            name = tts.cached(text, language, self.folder) or tts.render_now(text, language, self.folder)
        except SpeechError as exc:
            log.error("could not render a %s prompt now (%s): it is said with <Say> where Twilio can", language, exc)
            name = None
        if name:
            self._sidecar(name, text)
            self._known[key] = self.urls.prompt(name)
            return self._known[key]
        self._missing[key] = time.monotonic()
        if looked is None:
            try:
                self.jobs.render_prompt(text, language, "prompt-" + tts.prompt_filename(text, language).split(".")[0])
            except Exception:  # rendering later is best effort; the caller hears <Say> now
                log.exception("could not queue the rendering of a prompt")
        return None

    def spoken_ms(self, text: str, language: str) -> int:
        """How long the prompt plays: its rendering's length, else the time a <Say> of it takes."""
        name = tts.cached(text, language, self.folder)
        if name is None:
            return said_ms(text)
        if name not in self._lengths:  # a rendering never changes
            try:
                self._lengths[name] = tts.length_ms(self.folder / name)
            except (OSError, SpeechError):
                return said_ms(text)
        return self._lengths[name]

    def render(self, text: str, language: str) -> str:
        """Render one prompt (if missing) and keep its words beside it; its file name."""
        name = tts.render(text, language, self.folder)
        self._sidecar(name, text)
        return name

    def build_all(self, texts: Mapping[str, list[str]]) -> dict[str, int]:
        """Render every given text of every language; counts of rendered and already there."""
        counts = tts.build_all(texts, self.folder)
        for language, language_texts in texts.items():
            for text in language_texts:
                self._sidecar(tts.prompt_filename(text, language), text)
        return counts

    def words(self, name: str) -> str | None:
        """The words of a rendered prompt, if known."""
        sidecar = (self.folder / name).with_suffix(".txt")
        return sidecar.read_text(encoding="utf-8") if sidecar.is_file() else None

    def _sidecar(self, name: str, text: str) -> None:
        sidecar = (self.folder / name).with_suffix(".txt")
        if not sidecar.exists():
            sidecar.write_text(text, encoding="utf-8")
