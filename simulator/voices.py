"""Callers' voices for the simulator, tests and benchmarks: espeak-ng → sox → 8 kHz μ-law.

Each rendering is cached on disk by a hash of its parameters, so tests don't run espeak-ng twice
for the same utterance.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from simulator.exceptions import SimulatorError
from wire.mulaw import SAMPLE_RATE, ulaw_decode, ulaw_encode

log = logging.getLogger(__name__)

CACHE_DIR = Path(tempfile.gettempdir()) / "speech-synth-cache"
CACHE_VERSION = 1
ESPEAK_LANGUAGES = {"en": "en-us", "ru": "ru", "fa": "fa", "ko": "ko"}
LINE_DBFS = -65.0  # a quiet telephone line is never digital silence: faint noise where nobody speaks


def caller_audio(
    text: str,
    lang: str,
    *,
    voice_variant: str | None = None,
    speed: int | None = None,
    pitch: int | None = None,
    snr_db: float | None = None,
    seed: int = 0,
    lead_ms: int = 0,
    tail_ms: int = 0,
    telephone: bool = False,
    line_dbfs: float | None = None,
) -> bytes:
    """``text`` spoken by espeak-ng in ``lang`` as 8 kHz μ-law, optionally with noise at ``snr_db``.

    ``voice_variant`` is an espeak-ng variant (``f3``, ``m3``, ``klatt``…), ``speed`` words per minute,
    ``pitch`` 0–99. ``lead_ms``/``tail_ms`` add pauses before/after the words; the noise covers them too.
    ``telephone``: the whole line (voice and noise) band-limited to 300–3400 Hz, as a telephone channel is.
    ``line_dbfs``: the line's own floor under everything (``LINE_DBFS``: a quiet line), whatever ``snr_db`` adds.
    """
    params = [CACHE_VERSION, text, lang, voice_variant, speed, pitch, snr_db, seed, lead_ms, tail_ms]
    params += ["telephone"] if telephone else []  # (the names of earlier renderings stay as they were)
    params += [line_dbfs] if line_dbfs is not None else []
    path = CACHE_DIR / (hashlib.sha256(json.dumps(params).encode()).hexdigest()[:32] + ".ulaw")
    if path.exists():
        return path.read_bytes()
    pcm = _espeak_pcm(text, lang, voice_variant, speed, pitch)
    pcm = np.concatenate([_zeros(lead_ms), pcm, _zeros(tail_ms)])
    if snr_db is not None:
        pcm = add_noise(pcm, snr_db, seed=seed)
    if line_dbfs is not None:
        pcm = np.clip(np.rint(pcm + pink_noise_at(len(pcm), line_dbfs, seed + 1)), -32768, 32767).astype(np.int16)
    if telephone:
        pcm = telephone_band(pcm)
    audio = ulaw_encode(pcm)
    _write_atomically(path, audio)
    return audio


def voice_edges(clean: bytes) -> tuple[int, int]:
    """Where the words of a clean rendering (no noise, no line floor: digital silence around them) start and end, in ms:
    the truth a voice activity detector is measured against."""
    pcm = ulaw_decode(clean).astype(np.float64)
    frames = len(pcm) // 160
    level = 10 * np.log10(np.maximum(np.mean(pcm[: frames * 160].reshape(-1, 160) ** 2, axis=1), 1.0))
    voiced = np.flatnonzero(level > 30)
    if not len(voiced):
        raise SimulatorError("no words in this audio")
    return int(voiced[0]) * 20, int(voiced[-1] + 1) * 20


def line_noise(ms: int, *, dbfs: float = -60.0, seed: int = 0) -> bytes:
    """A quiet telephone line (no words): pink noise at ``dbfs`` for ``ms`` milliseconds, μ-law."""
    return ulaw_encode(np.clip(pink_noise_at(SAMPLE_RATE * ms // 1000, dbfs, seed), -32768, 32767))


def pink_noise_at(samples: int, dbfs: float, seed: int) -> np.ndarray:
    """``samples`` of pink noise whose RMS is ``dbfs`` below full scale (float samples)."""
    noise = _pink_noise(samples, np.random.default_rng(seed))
    return noise * (32768 * 10 ** (dbfs / 20) / max(float(np.sqrt(np.mean(noise**2))), 1e-9))


def add_noise(pcm: np.ndarray, snr_db: float, *, seed: int = 0) -> np.ndarray:
    """Mix pink noise into int16 speech so that speech power / noise power is ``snr_db``."""
    speech = pcm.astype(np.float64)
    noise = _pink_noise(len(speech), np.random.default_rng(seed))
    target = active_power(speech) / 10 ** (snr_db / 10)
    noise *= np.sqrt(target / max(float(np.mean(noise**2)), 1e-12))
    return np.clip(np.rint(speech + noise), -32768, 32767).astype(np.int16)


def active_power(pcm: np.ndarray, frame: int = 160, floor_db: float = 40.0) -> float:
    """Mean power of the frames within ``floor_db`` of the loudest one (the speech, not the pauses)."""
    samples = np.asarray(pcm, dtype=np.float64)
    usable = len(samples) // frame * frame
    if usable == 0:
        return 0.0
    powers = np.mean(samples[:usable].reshape(-1, frame) ** 2, axis=1)
    loud = powers[powers >= powers.max() / 10 ** (floor_db / 10)]
    return float(np.mean(loud))


def snr_of(clean: bytes, noisy: bytes) -> float:
    """Measured SNR in dB between clean μ-law speech and the same speech with noise."""
    a, b = ulaw_decode(clean).astype(np.float64), ulaw_decode(noisy).astype(np.float64)
    return 10 * np.log10(active_power(a) / float(np.mean((b - a) ** 2)))


def _espeak_pcm(text: str, lang: str, variant: str | None, speed: int | None, pitch: int | None) -> np.ndarray:
    voice = ESPEAK_LANGUAGES.get(lang, lang) + (f"+{variant}" if variant else "")
    command = ["espeak-ng", "-v", voice, "--stdout"]
    if speed is not None:
        command += ["-s", str(speed)]
    if pitch is not None:
        command += ["-p", str(pitch)]
    try:
        wav = subprocess.run([*command, "--", text], capture_output=True, check=True, timeout=60).stdout
        raw = subprocess.run(
            [
                "sox",
                "-D",
                "-t",
                "wav",
                "-",
                "-t",
                "raw",
                "-r",
                str(SAMPLE_RATE),
                "-e",
                "signed",
                "-b",
                "16",
                "-c",
                "1",
                "-",
            ],
            input=wav,
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise SimulatorError(f"cannot synthesize {text!r} in {voice}: {exc}") from exc
    return np.frombuffer(raw, dtype=np.int16)


def telephone_band(pcm: np.ndarray) -> np.ndarray:
    """8 kHz int16 samples through a 300–3400 Hz band-pass (sox's windowed-sinc filter)."""
    raw = ["-t", "raw", "-r", str(SAMPLE_RATE), "-e", "signed", "-b", "16", "-c", "1"]
    try:
        out = subprocess.run(["sox", "-D", *raw, "-", *raw, "-", "sinc", "300-3400"], input=pcm.astype("<i2").tobytes(),
                             capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise SimulatorError(f"cannot band-limit audio with sox: {exc}") from exc
    return np.frombuffer(out, dtype=np.int16)


def recording(path: str) -> bytes:
    """Any audio file sox reads (WAV, FLAC, MP3 where sox has it; any rate, channels, encoding) as 8 kHz μ-law."""
    try:
        return subprocess.run(["sox", "-D", path, "-t", "raw", "-r", str(SAMPLE_RATE), "-e", "mu-law", "-b", "8",
                               "-c", "1", "-"], capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise SimulatorError(f"cannot read {path}: {detail.decode(errors='replace').strip() or exc}") from None


def _pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Noise with a 1/f spectrum (closer to a room or a line than white noise)."""
    spectrum = np.fft.rfft(rng.standard_normal(max(n, 2)))
    freqs = np.arange(len(spectrum))
    spectrum[1:] /= np.sqrt(freqs[1:])
    spectrum[0] = 0
    return np.fft.irfft(spectrum, max(n, 2))[:n]


def _zeros(ms: int) -> np.ndarray:
    return np.zeros(SAMPLE_RATE * ms // 1000, dtype=np.int16)


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(tmp, path)
