"""Unit tests of the RouterOS API wire format and print queries."""

import pytest

from routers.simulator.api_server import parse_command
from routers.simulator.model import TrapError
from routers.simulator.protocol import (
    ProtocolError,
    SentenceReader,
    decode_length,
    encode_length,
    encode_sentence,
    encode_word,
)
from routers.simulator.query import compile_query


@pytest.mark.parametrize(
    ("length", "encoded"),
    [
        (0, b"\x00"),
        (0x7F, b"\x7f"),
        (0x80, b"\x80\x80"),
        (0x3FFF, b"\xbf\xff"),
        (0x4000, b"\xc0\x40\x00"),
        (0x1FFFFF, b"\xdf\xff\xff"),
        (0x200000, b"\xe0\x20\x00\x00"),
        (0xFFFFFFF, b"\xef\xff\xff\xff"),
        (0x10000000, b"\xf0\x10\x00\x00\x00"),
        (0xFFFFFFFF, b"\xf0\xff\xff\xff\xff"),
    ],
)
def test_length_encoding_round_trips_all_five_forms(length: int, encoded: bytes) -> None:
    assert encode_length(length) == encoded
    assert decode_length(encoded) == (length, len(encoded))
    assert decode_length(b"junk" + encoded, 4) == (length, 4 + len(encoded))


@pytest.mark.parametrize(
    "encoded", [b"\x80", b"\xc0\x40", b"\xe0\x20\x00", b"\xf0\x10\x00\x00", b""]
)
def test_length_decoding_waits_for_more_bytes(encoded: bytes) -> None:
    assert decode_length(encoded) is None


@pytest.mark.parametrize("first", [0xF8, 0xF9, 0xFC, 0xFF])
def test_length_decoding_rejects_reserved_control_bytes(first: int) -> None:
    with pytest.raises(ProtocolError):
        decode_length(bytes([first, 0, 0, 0, 0]))


def test_length_encoding_rejects_out_of_range() -> None:
    with pytest.raises(ValueError):
        encode_length(0x100000000)
    with pytest.raises(ValueError):
        encode_length(-1)


def test_sentence_reader_handles_byte_by_byte_input_and_drops_empty_sentences() -> None:
    long_value = "x" * 0x4000
    stream = (
        b"\x00"
        + encode_sentence(["/login", "=name=admin", "=password="])
        + encode_sentence(["/ip/hotspot/user/add", "=comment=" + long_value, ".tag=7"])
    )
    reader = SentenceReader()
    sentences: list[list[bytes]] = []
    for i in range(len(stream)):
        sentences.extend(reader.feed(stream[i : i + 1]))
    assert sentences == [
        [b"/login", b"=name=admin", b"=password="],
        [b"/ip/hotspot/user/add", ("=comment=" + long_value).encode(), b".tag=7"],
    ]
    assert not reader.pending


def test_sentence_reader_returns_several_pipelined_sentences_at_once() -> None:
    stream = b"".join(encode_sentence(["/system/identity/print", f".tag={i}"]) for i in range(50))
    sentences = SentenceReader().feed(stream)
    assert len(sentences) == 50
    assert sentences[49] == [b"/system/identity/print", b".tag=49"]


def test_sentence_reader_rejects_reserved_length_byte() -> None:
    with pytest.raises(ProtocolError):
        SentenceReader().feed(b"\x05/quit\xf8")


def test_word_encoding_keeps_raw_bytes() -> None:
    raw = bytes(range(256))
    assert encode_word(raw) == b"\x81\x00" + raw
    # Non-UTF-8 bytes survive a decode/encode round trip through str.
    words = SentenceReader().feed(encode_sentence([raw]))[0]
    assert words == [raw]


def test_parse_command_splits_attributes_at_second_equals() -> None:
    command = parse_command(
        ["/ip/hotspot/user/add", "=name=a=b", "=comment", "=password=", "?name", ".tag=x"]
    )
    assert command.path == "/ip/hotspot/user/add"
    assert command.args == {"name": "a=b", "comment": "", "password": ""}
    assert command.queries == ["name"]
    assert command.tag == "x"


def test_parse_command_rejects_stray_words() -> None:
    with pytest.raises(TrapError):
        parse_command(["/ip/hotspot/user/print", "name=x"])


ROWS = [
    {".id": "*1", "name": "ether1", "type": "ether", "mtu": "1500", "disabled": "false"},
    {".id": "*2", "name": "wlan1", "type": "wlan", "mtu": "1600", "disabled": "true"},
    {".id": "*3", "name": "bridge", "type": "bridge", "mtu": "1400", "comment": "x"},
]


@pytest.mark.parametrize(
    ("words", "names"),
    [
        ([], ["ether1", "wlan1", "bridge"]),
        (["comment"], ["bridge"]),
        (["-comment"], ["ether1", "wlan1"]),
        (["type=wlan"], ["wlan1"]),
        (["=type=wlan"], ["wlan1"]),
        (["disabled=yes"], ["wlan1"]),
        (["<mtu=1500"], ["bridge"]),
        ([">mtu=1400"], ["ether1", "wlan1"]),
        (["type=ether", "type=wlan", "#|"], ["ether1", "wlan1"]),
        (["type=ether", "type=wlan", "#|!"], ["bridge"]),
        (["type=ether", "mtu=1500", "#&"], ["ether1"]),
        (["type=bridge", "type=wlan", "#0|"], ["bridge"]),
        (["type=bridge", "type=wlan", "#1.0|&"], []),
        (["type=nothing", "#!"], ["ether1", "wlan1", "bridge"]),
        (["type=ether", "type=wlan"], []),
    ],
)
def test_query_selects_rows(words: list[str], names: list[str]) -> None:
    predicate = compile_query(words)
    rows = ROWS if predicate is None else [row for row in ROWS if predicate(row)]
    assert [row["name"] for row in rows] == names


def test_query_rejects_unknown_operation_and_stack_underflow() -> None:
    with pytest.raises(TrapError):
        compile_query(["#x"])
    predicate = compile_query(["name", "#|"])
    assert predicate is not None
    with pytest.raises(TrapError):
        predicate(ROWS[0])
