"""The settings as the server runs with them: defaults that live in the instance folder, local mode, and the
checks that refuse settings which cannot work in production."""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import settings
from core.errors import ConfigError
from core.numbers import callable_number
from store import dialect

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE = ROOT / "instance"
LOCAL_ACCOUNT_SID = "AC" + "0" * 32
FICTIONAL_CALLER_ID = settings.BY_NAME["CALLBACK_CALLER_ID"].default
ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")


def private(path: Path, mode: int) -> None:
    """Only the server's own user may read ``path`` (callers' data, password hashes, secrets)."""
    try:
        if path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)
    except OSError as exc:  # not ours to change (a shared folder): said, not fatal
        log.warning("could not make %s private (mode %o): %s", path, mode, exc)


def instance_secret(instance: Path, name: str) -> str:
    """A random secret kept in the instance folder (mode 0600), made on first start."""
    path = instance / name
    if not path.exists():
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(16))
    return path.read_text().strip()


def resolve(config: Mapping[str, Any], instance: Path = DEFAULT_INSTANCE) -> dict[str, Any]:
    """Every setting with its runtime default filled in; raises ConfigError for settings that cannot work."""
    resolved = dict(config)
    instance.mkdir(mode=0o700, parents=True, exist_ok=True)
    private(instance, 0o700)
    resolved["INSTANCE_PATH"] = str(instance)
    local = not resolved["TWILIO_ACCOUNT_SID"]
    resolved["LOCAL_MODE"] = local
    if local:
        resolved["TWILIO_ACCOUNT_SID"] = LOCAL_ACCOUNT_SID
        resolved["TWILIO_AUTH_TOKEN"] = resolved["TWILIO_AUTH_TOKEN"] or instance_secret(instance, "local_auth_token")
    else:
        check_production(resolved)
    resolved["BASE_URL"] = (resolved["PUBLIC_BASE_URL"] or f"http://127.0.0.1:{resolved['PORT']}").rstrip("/")
    if local and not resolved["TWILIO_API_BASE_URL"]:
        resolved["TWILIO_API_BASE_URL"] = resolved["BASE_URL"] + "/sim/twilio"
    resolved["DATABASE_PATH"] = resolved["DATABASE_PATH"] or str(instance / "contact_center.db")
    resolved["PROMPT_CACHE_DIR"] = resolved["PROMPT_CACHE_DIR"] or str(instance / "prompts")
    resolved["VOICEMAIL_DIR"] = resolved["VOICEMAIL_DIR"] or str(instance / "voicemail")
    if resolved["DATABASE_URL"] and not dialect.is_url(resolved["DATABASE_URL"]):
        raise ConfigError("DATABASE_URL must be a postgresql:// URL (leave it empty for SQLite at DATABASE_PATH)")
    resolved["DATABASE"] = resolved["DATABASE_URL"] or resolved["DATABASE_PATH"]
    default_journal = str(instance / "journal") if resolved["DATABASE_URL"] else resolved["DATABASE_PATH"] + ".journal"
    resolved["JOURNAL_PATH"] = resolved["JOURNAL_PATH"] or default_journal
    resolved["SECRET_KEY"] = resolved["SECRET_KEY"] or instance_secret(instance, "secret_key")
    if resolved["ALERT_WEBHOOK_URL"] and not (re.match(r"^https?://\S+$", resolved["ALERT_WEBHOOK_URL"])
                                             and resolved["ALERT_WEBHOOK_SECRET"]):
        raise ConfigError("ALERT_WEBHOOK_URL must be an http(s) URL, with ALERT_WEBHOOK_SECRET set to sign what it gets")
    if local and resolved["SERVE"] != "all":
        raise ConfigError("local mode is one process (the simulator lives in it): SERVE must be all")
    if not 0 <= resolved["TRUSTED_PROXIES"] <= 5:
        raise ConfigError("TRUSTED_PROXIES is the number of reverse proxies in front of the server: 0 to 5")
    return resolved


def check_production(config: Mapping[str, Any]) -> None:
    """Twilio mode: refuse settings under which signatures, callback URLs or callbacks would silently be wrong."""
    faults = []
    if not ACCOUNT_SID.match(config["TWILIO_ACCOUNT_SID"]):
        faults.append("TWILIO_ACCOUNT_SID must be 'AC' followed by 32 hex digits")
    if not config["TWILIO_AUTH_TOKEN"]:
        faults.append("TWILIO_AUTH_TOKEN is not set: Twilio's signatures cannot be checked")
    base = config["PUBLIC_BASE_URL"]
    if not base:
        faults.append("PUBLIC_BASE_URL is not set: Twilio signs the URL it calls, and every callback URL is built on it "
                      "(set it to the https:// address Twilio reaches this server at)")
    elif not re.match(r"^https?://[^/\s]+(/[^\s]*)?$", base):
        faults.append(f"PUBLIC_BASE_URL {base!r} is not an http(s) URL")
    caller_id = config["CALLBACK_CALLER_ID"]
    if caller_id == FICTIONAL_CALLER_ID:
        faults.append(f"CALLBACK_CALLER_ID is still the fictional {FICTIONAL_CALLER_ID}: set it to one of your Twilio numbers")
    elif callable_number(caller_id, config["DEFAULT_REGION"]) != caller_id:
        faults.append(f"CALLBACK_CALLER_ID {caller_id!r} is not a valid E.164 phone number")
    if faults:
        raise ConfigError("refusing to start with these settings:\n  " + "\n  ".join(faults))
