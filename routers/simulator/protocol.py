"""RouterOS API wire format: word lengths, words, sentences and an incremental reader."""

from __future__ import annotations

from collections.abc import Iterable

# Values are raw bytes on the wire; surrogateescape lets arbitrary bytes round-trip through str.
ENCODING = "utf-8"
ERRORS = "surrogateescape"

MAX_LENGTH = 0xFFFFFFFF


class ProtocolError(Exception):
    """The peer sent bytes that are not a valid API stream."""


def encode_length(length: int) -> bytes:
    """Encode a word length in RouterOS's 1 to 5 byte form."""
    if length < 0:
        raise ValueError(f"negative length {length}")
    if length < 0x80:
        return bytes((length,))
    if length < 0x4000:
        return (length | 0x8000).to_bytes(2, "big")
    if length < 0x200000:
        return (length | 0xC00000).to_bytes(3, "big")
    if length < 0x10000000:
        return (length | 0xE0000000).to_bytes(4, "big")
    if length <= MAX_LENGTH:
        return b"\xf0" + length.to_bytes(4, "big")
    raise ValueError(f"length {length} too large")


def decode_length(buf: bytes | bytearray | memoryview, offset: int = 0) -> tuple[int, int] | None:
    """Decode a length at offset; return (length, offset after it), or None if buf is too short."""
    if offset >= len(buf):
        return None
    first = buf[offset]
    if first < 0x80:
        return first, offset + 1
    if first < 0xC0:
        size, mask = 2, 0x8000
    elif first < 0xE0:
        size, mask = 3, 0xC00000
    elif first < 0xF0:
        size, mask = 4, 0xE0000000
    elif first == 0xF0:
        if offset + 5 > len(buf):
            return None
        return int.from_bytes(buf[offset + 1 : offset + 5], "big"), offset + 5
    else:
        # 0xF1..0xFF: 0xF8 and above are reserved control bytes; 0xF1..0xF7 are undefined.
        raise ProtocolError(f"reserved length byte 0x{first:02X}")
    if offset + size > len(buf):
        return None
    return int.from_bytes(buf[offset : offset + size], "big") ^ mask, offset + size


def encode_word(word: str | bytes) -> bytes:
    """Encode one word (length prefix + bytes)."""
    data = word.encode(ENCODING, ERRORS) if isinstance(word, str) else word
    return encode_length(len(data)) + data


def encode_sentence(words: Iterable[str | bytes]) -> bytes:
    """Encode a sentence: its words followed by the zero-length terminator."""
    return b"".join([encode_word(w) for w in words]) + b"\x00"


def decode_word(data: bytes) -> str:
    """Decode a word's bytes into str (lossless for any bytes)."""
    return data.decode(ENCODING, ERRORS)


class SentenceReader:
    """Incremental parser: feed it bytes, get back complete sentences (lists of words)."""

    def __init__(self, max_word: int = 0x10000000) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._words: list[bytes] = []
        self._max_word = max_word

    def feed(self, data: bytes) -> list[list[bytes]]:
        """Add received bytes; return the sentences completed by them (empty ones dropped)."""
        buf = self._buf
        buf += data
        pos = self._pos
        sentences: list[list[bytes]] = []
        while True:
            decoded = decode_length(buf, pos)
            if decoded is None:
                break
            length, start = decoded
            if length > self._max_word:
                raise ProtocolError(f"word of {length} bytes is too long")
            if length == 0:
                pos = start
                if self._words:
                    sentences.append(self._words)
                    self._words = []
                continue
            end = start + length
            if end > len(buf):
                break
            self._words.append(bytes(buf[start:end]))
            pos = end
        # Drop consumed bytes now and then, not on every word (keeps large replies linear).
        if pos > 65536 or pos == len(buf):
            del buf[:pos]
            pos = 0
        self._pos = pos
        return sentences

    @property
    def pending(self) -> bool:
        """Return whether a partial sentence is buffered."""
        return bool(self._words) or self._pos < len(self._buf)
