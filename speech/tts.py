"""Prompts rendered with pyttsx3 (espeak-ng voices) to 8 kHz μ-law WAV for ``<Play>``, cached on disk.

A rendering's file name is a hash of (text, voice, rate), so a changed prompt text gets a new file
and an unchanged one is never rendered twice. ``cached`` only looks (webhooks call it: it never
renders); ``render`` renders what is missing; ``build_all`` renders every prompt of every flow.

pyttsx3's espeak driver keeps global state in the espeak library and is not safe in threads, so
the rendering runs in a child process (``python -m speech.tts`` reading jobs as JSON on stdin);
sox then converts its 22 kHz output to telephone audio.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import time
import wave
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from speech.exceptions import SpeechError
from wire import wav

log = logging.getLogger(__name__)

VOICES = {"en": "gmw/en-us", "ru": "zle/ru", "fa": "ira/fa", "ko": "ko"}  # pyttsx3 espeak voice ids
DEFAULT_RATE = 150  # words per minute; espeak's 200 is fast for callers
RENDER_VERSION = 1
RENDER_TIMEOUT_S = 120
RENDER_WAIT_S = 10
RENDER_NOW_S = 2.0  # a webhook's own rendering of a prompt not rendered yet gives up after this (each step)
_ROOT = Path(__file__).resolve().parent.parent


def voice_for(lang: str) -> str:
    """The pyttsx3 voice id of a language."""
    try:
        return VOICES[lang]
    except KeyError:
        raise SpeechError(f"no prompt voice for language '{lang}' (known: {', '.join(VOICES)})") from None


def prompt_filename(text: str, lang: str, rate: int = DEFAULT_RATE) -> str:
    """The file name a prompt renders to: a hash of text, voice and rate."""
    key = json.dumps([RENDER_VERSION, text, voice_for(lang), rate], ensure_ascii=False)
    return hashlib.sha256(key.encode()).hexdigest()[:32] + ".wav"


def cached(text: str, lang: str, folder: str | Path, rate: int = DEFAULT_RATE) -> str | None:
    """The file name of the prompt's rendering in ``folder`` if it exists; never renders."""
    name = prompt_filename(text, lang, rate)
    return name if (Path(folder) / name).is_file() else None


def length_ms(path: str | Path) -> int:
    """How long a WAV file plays (``wire.wav.length_ms``)."""
    try:
        return wav.length_ms(Path(path).read_bytes())
    except wav.NotWav as exc:
        raise SpeechError(f"{path}: {exc}") from None


def render(text: str, lang: str, folder: str | Path, rate: int = DEFAULT_RATE) -> str:
    """The file name of the prompt's rendering in ``folder``, rendering it first if missing."""
    return _render_missing([(text, lang)], Path(folder), rate)[(text, lang)]


def build_all(
    texts_by_lang: Mapping[str, Iterable[str]], folder: str | Path, rate: int = DEFAULT_RATE
) -> dict[str, int]:
    """Render every prompt of every language that is not rendered yet; counts of rendered and cached."""
    wanted = list(
        dict.fromkeys((text, lang) for lang, texts in texts_by_lang.items() for text in texts if text.strip())
    )
    folder = Path(folder)
    already = sum(1 for text, lang in wanted if cached(text, lang, folder, rate))
    _render_missing(wanted, folder, rate)
    return {"rendered": len(wanted) - already, "cached": already}


def _render_missing(prompts: list[tuple[str, str]], folder: Path, rate: int) -> dict[tuple[str, str], str]:
    names = {(text, lang): prompt_filename(text, lang, rate) for text, lang in prompts}
    missing = [(text, lang) for text, lang in prompts if not (folder / names[(text, lang)]).is_file()]
    if not missing:
        return names
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".render-") as tmp:
        jobs = [
            {"text": text, "voice": voice_for(lang), "rate": rate, "out": str(Path(tmp) / f"{i}.wav")}
            for i, (text, lang) in enumerate(missing)
        ]
        _run_pyttsx3(jobs)
        for job, key in zip(jobs, missing, strict=True):
            _to_telephone_wav(Path(job["out"]), folder / names[key])
    log.info("rendered %d prompt(s) into %s", len(missing), folder)
    return names


def _run_pyttsx3(jobs: list[dict]) -> None:
    """Render the jobs with pyttsx3 in a child process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")]))}
    try:
        done = subprocess.run(
            [sys.executable, "-m", "speech.tts"],
            input=json.dumps(jobs, ensure_ascii=False),
            capture_output=True,
            text=True,
            timeout=RENDER_TIMEOUT_S,
            env=env,
            cwd=_ROOT,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SpeechError(f"prompt rendering failed: {exc}") from exc
    if done.returncode != 0:
        raise SpeechError(f"prompt rendering failed: {done.stderr.strip()[-500:]}")
    empty = [job for job in jobs if not has_audio(job)]
    for job in empty:  # pyttsx3 sometimes writes nothing under load: espeak-ng itself, the engine it drives
        espeak_render(job)
    still = [job["text"] for job in empty if not has_audio(job)]
    if still:
        raise SpeechError(f"neither pyttsx3 nor espeak-ng produced audio for {still!r}")
    if empty:
        log.warning("pyttsx3 produced no audio for %d prompt(s): rendered with espeak-ng directly", len(empty))


def has_audio(job: Mapping[str, str]) -> bool:
    out = Path(job["out"])
    return out.is_file() and out.stat().st_size > 44


def espeak_render(job: Mapping[str, Any], timeout_s: float = RENDER_TIMEOUT_S) -> None:
    """One job rendered by espeak-ng's own command, with the voice and rate pyttsx3 would have used (a failure is
    logged: the job's file is then missing or empty)."""
    command = ["espeak-ng", "-v", str(job["voice"]), "-s", str(job["rate"]), "-w", str(job["out"]), "--", job["text"]]
    try:
        subprocess.run(command, capture_output=True, check=True, timeout=timeout_s)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("espeak-ng could not render %r: %s", job["text"][:60], exc)


def render_now(text: str, lang: str, folder: str | Path, rate: int = DEFAULT_RATE,
               timeout_s: float = RENDER_NOW_S) -> str:
    """Render one prompt at once with espeak-ng itself (tens of milliseconds: the engine pyttsx3 drives, same voice
    and rate), for a webhook that must not wait for the batch renderer; its file name. SpeechError when it fails or
    takes longer than ``timeout_s`` (each of the two steps)."""
    folder = Path(folder)
    name = prompt_filename(text, lang, rate)
    if (folder / name).is_file():
        return name
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".render-") as tmp:
        job = {"text": text, "voice": voice_for(lang), "rate": rate, "out": str(Path(tmp) / "now.wav")}
        espeak_render(job, timeout_s)
        if not has_audio(job):
            raise SpeechError(f"espeak-ng produced no audio for {text[:60]!r} within {timeout_s} s")
        _to_telephone_wav(Path(job["out"]), folder / name, timeout_s)
    return name


def _to_telephone_wav(source: Path, target: Path, timeout_s: float = RENDER_TIMEOUT_S) -> None:
    """sox: any WAV → 8 kHz mono μ-law WAV, written atomically."""
    partial = target.with_name(f".{target.stem}.{os.getpid()}.{threading.get_ident()}.tmp.wav")
    command = ["sox", "-D", str(source), "-r", "8000", "-c", "1", "-e", "u-law", "-b", "8", str(partial)]
    try:
        subprocess.run(command, capture_output=True, check=True, timeout=timeout_s)
    except (OSError, subprocess.SubprocessError) as exc:
        partial.unlink(missing_ok=True)
        raise SpeechError(f"sox could not convert {source.name}: {exc}") from exc
    os.replace(partial, target)


def _main() -> None:
    """Child process: render the JSON job list on stdin with one pyttsx3 engine."""
    import pyttsx3

    engine = pyttsx3.init("espeak")
    for job in json.load(sys.stdin):
        engine.setProperty("voice", job["voice"])
        engine.setProperty("rate", job["rate"])
        engine.save_to_file(job["text"], job["out"])
        engine.runAndWait()
        _wait_for_wav(Path(job["out"]))


def _wait_for_wav(path: Path) -> None:
    """pyttsx3's espeak driver writes the file from espeak's thread, sometimes after runAndWait returned:
    wait until a complete WAV is there (its header's frame count matches its size)."""
    deadline = time.monotonic() + RENDER_WAIT_S
    while time.monotonic() < deadline:
        try:
            with wave.open(str(path), "rb") as wav:
                expected = wav.getnframes() * wav.getsampwidth() * wav.getnchannels()
            if expected and path.stat().st_size >= expected + 44:
                return
        except (OSError, EOFError, wave.Error):
            pass
        time.sleep(0.02)


if __name__ == "__main__":
    _main()
