"""WAV files of any encoding (Python's wave module reads PCM only; our prompts and hold music are μ-law)."""

from __future__ import annotations


class NotWav(ValueError):
    """The bytes are not a WAV file with an audio format and a data chunk."""


def length_ms(data: bytes) -> int:
    """How long a WAV file plays, from its ``fmt `` chunk's byte rate and its ``data`` chunk's size."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise NotWav("not a WAV file")
    offset, byte_rate, size = 12, 0, None
    while offset + 8 <= len(data) and size is None:
        chunk, length = data[offset:offset + 4], int.from_bytes(data[offset + 4:offset + 8], "little")
        if chunk == b"fmt ":
            byte_rate = int.from_bytes(data[offset + 16:offset + 20], "little")
        elif chunk == b"data":
            size = min(length, len(data) - offset - 8)
        offset += 8 + length + (length & 1)
    if not byte_rate or size is None:
        raise NotWav("no audio format or no data")
    return round(size * 1000 / byte_rate)
