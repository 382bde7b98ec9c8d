"""G.711 μ-law audio for telephone streams, with numpy (the standard library's audioop is gone in 3.13).

Twilio Media Streams carry 8 kHz mono μ-law in 20 ms frames of 160 bytes. The tables here follow
ITU-T G.711 (the same codes sox writes with ``-e u-law``); a test checks that against sox.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 8000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000  # one μ-law byte per sample
ULAW_SILENCE = 0xFF  # decodes to 0

_BIAS = 0x84
_CLIP = 32635


def _decode_table() -> np.ndarray:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = codes & 0x80
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def _encode_table() -> np.ndarray:
    """μ-law code of every int16 value, indexed by the value's uint16 bit pattern (G.711 on 14 bits)."""
    values = np.arange(65536, dtype=np.int32)
    values = np.where(values >= 32768, values - 65536, values) >> 2
    sign = np.where(values < 0, 0x80, 0)
    magnitude = np.minimum(np.abs(values), _CLIP >> 2) + (_BIAS >> 2)
    exponent = np.floor(np.log2(magnitude)).astype(np.int32) - 5
    mantissa = (magnitude >> (exponent + 1)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)


DECODE_TABLE = _decode_table()
ENCODE_TABLE = _encode_table()


def ulaw_decode(data: bytes) -> np.ndarray:
    """μ-law bytes → int16 samples."""
    return DECODE_TABLE[np.frombuffer(data, dtype=np.uint8)]


def ulaw_encode(pcm: np.ndarray) -> bytes:
    """int16 samples → μ-law bytes."""
    samples = np.asarray(pcm, dtype=np.int16)
    return ENCODE_TABLE[samples.view(np.uint16)].tobytes()


def frames(audio: bytes, size: int = FRAME_BYTES) -> list[bytes]:
    """Cut μ-law audio into frames of ``size`` bytes (20 ms); the last one is padded with silence."""
    chunks = [audio[i : i + size] for i in range(0, len(audio), size)]
    if chunks and len(chunks[-1]) < size:
        chunks[-1] = chunks[-1] + bytes([ULAW_SILENCE]) * (size - len(chunks[-1]))
    return chunks


def silence(ms: int) -> bytes:
    """Digital silence of ``ms`` milliseconds in μ-law."""
    return bytes([ULAW_SILENCE]) * (SAMPLE_RATE * ms // 1000)


def duration_ms(audio: bytes) -> int:
    """Length of μ-law audio in milliseconds."""
    return len(audio) * 1000 // SAMPLE_RATE
