"""The compiled shift-chart scanner (`nhl_assets/parse/_shiftscan.c`) against msgspec's typed decode it stands
in front of: the same columns wherever it reads a body, and None (the slower path decides) wherever the body
is anything but plain valid JSON of the regular shape."""

from __future__ import annotations

import random

import msgspec
import numpy as np
import orjson
import pytest

from nhl_assets.parse import shifts as ps

pytestmark = [pytest.mark.unit, pytest.mark.skipif(
    ps._shiftscan is None, reason="the shift-chart scanner is not built (tests/test_parse_silver.py says "
                                  "whether it should be): msgspec reads every chart")]

ROW = {"id": 14765321, "detailCode": 0, "duration": "00:41", "endTime": "01:01", "eventDescription": None,
       "eventDetails": None, "eventNumber": 8, "firstName": "Zdeno", "gameId": 2024020001, "hexValue": "#FFB81C",
       "lastName": "Chára", "period": 1, "playerId": 8465009, "shiftNumber": 1, "startTime": "00:20",
       "teamAbbrev": "BOS", "teamId": 6, "teamName": "Boston Bruins", "typeCode": 517}


def _body(rows: list[dict], **top) -> bytes:
    return orjson.dumps({"data": rows, "total": len(rows), **top})


def _typed(body: bytes) -> np.ndarray | None:
    """The columns msgspec's typed decode gives `body` (the path without the scanner), or None."""
    try:
        rows = msgspec.json.decode(body, type=ps._RegularRows).data
        return ps._typed_columns(rows)
    except (msgspec.MsgspecError, OverflowError):
        return None


def _scanned(body: bytes) -> np.ndarray | None:
    out = ps._shiftscan.scan(body)
    return None if out is None else np.frombuffer(out[1], dtype=np.int64).reshape(len(ps.COLUMNS), out[0])


def test_simulated_charts_scan_to_the_columns_of_the_typed_decode():
    from nhl_assets.simulator.league import LeagueConfig, SimulatedLeague

    league = SimulatedLeague(LeagueConfig(seed=7))
    games = [g for d in league.dates_with_games()[:6] for g in league.games_on(d)]
    assert len(games) >= 20
    for game in games:
        body = orjson.dumps(league.shiftcharts_payload(game.id))
        got, want = _scanned(body), _typed(body)
        assert got is not None and want is not None and got.shape[1] > 500, game.id
        assert (got == want).all(), game.id
        chart = ps.decode_regular(body)
        assert isinstance(chart, ps.RegularChart) and (chart.columns == want).all()


@pytest.mark.parametrize("body", [
    _body([ROW]),
    _body([]),
    _body([{**ROW, "typeCode": 505, "startTime": "10:00", "endTime": "10:00"}, ROW]),
    _body([{k: ROW[k] for k in reversed(ROW)}]),  # keys in another order
    b' \n\t{ "data" :\r [ ' + orjson.dumps(ROW) + b' , ' + orjson.dumps(ROW) + b' ] , "total" : 2 } \n',
    _body([{**ROW, "firstName": "Jean-S\u00e9bastien \U0001F3D2", "lastName": "a \"quoted\" \\ name\n\u0001"}]),
    orjson.dumps({"total": 1, "meta": {"a": [1, -2.5e-3, 0, True, False, None, {"b": []}]}, "data": [ROW]}),
    _body([{**ROW, "eventDetails": {"nested": [[[{"x": -0.0, "y": 1E9}]]]}, "detailCode": -12}]),
    _body([{**ROW, "startTime": "5:07"}]),  # a clock the column read declines: ODD_CLOCK
    _body([{**ROW, "endTime": "20:60"}, {**ROW, "startTime": "ab:cd"}]),
    _body([{**ROW, "gameId": -9223372036854775808, "playerId": 9223372036854775807, "period": 0}]),
    b'{"data":[{"typeCode":517,"gameId":1,"playerId":2,"period":1,"startTime":"00:00","endTime":"00:45",'
    b'"x":"\\ud83c\\udfd2 \\u00e9 \\/ \\b\\f\\n\\r\\t"}]}',  # escapes in a string the scan skips
    _body([ROW], total="ten", extra=[]),
])
def test_regular_bodies_scan_to_the_columns_of_the_typed_decode(body):
    got, want = _scanned(body), _typed(body)
    assert got is not None and want is not None
    assert got.shape == want.shape and (got == want).all()


@pytest.mark.parametrize("body, why", [
    (b'{"data":[{"typ\\u0065Code":517,"gameId":1,"playerId":2,"period":1,"startTime":"00:00","endTime":"00:45"}]}',
     "an escape in a key"),
    (_body([{**ROW, "startTime": "00:2\u0030"}]).replace(b'"00:20"', b'"00:2\\u0030"'), "an escape in a clock"),
    (_body([ROW]).replace(b'"period":1', b'"period":1,"period":2'), "a key given twice"),
    (b'{"data":[],"data":[]}', "data given twice"),
    (_body([{k: v for k, v in ROW.items() if k != "endTime"}]), "a missing field"),
    (_body([{**ROW, "endTime": None}]), "a null clock"),
    (_body([{**ROW, "period": None}]), "a null integer"),
    (_body([{**ROW, "typeCode": 517.0}]), "an integer written with a fraction"),
    (_body([ROW]).replace(b'"typeCode":517', b'"typeCode":5.17e2'), "an integer written with an exponent"),
    (_body([{**ROW, "playerId": 2**63}]), "an id beyond int64"),
    (_body([{**ROW, "playerId": "8465009"}]), "an id written as text"),
    (_body([{**ROW, "startTime": 20}]), "a clock written as a number"),
    (_body([ROW])[:-3], "a truncated body"),
    (_body([ROW]) + b" x", "something after the body"),
    (_body([ROW]).replace("Chára".encode(), b"Ch\xe1ra"), "invalid UTF-8 in a skipped string"),
    (_body([ROW]).replace("Chára".encode(), b"Ch\xed\xa0\x80ra"), "a surrogate encoded in UTF-8"),
    (_body([ROW]).replace("Chára".encode(), b"Ch\xc0\xafra"), "an overlong UTF-8 sequence"),
    (_body([ROW]).replace("Chára".encode(), b"Ch\xf4\x90\x80\x80ra"), "UTF-8 beyond U+10FFFF"),
    (_body([ROW]).replace(b"Boston", b"Bos\x01ton"), "a control character in a string"),
    (_body([ROW]).replace(b"Boston", b"Bos\\xton"), "an unknown escape"),
    (_body([ROW]).replace(b"Boston", b"\\udc00oston"), "a lone low surrogate"),
    (_body([ROW]).replace(b"Boston", b"\\ud800oston"), "a high surrogate without its low half"),
    (_body([{**ROW, "eventDetails": None}]).replace(b'"eventDetails":null', b'"eventDetails":' + b"[" * 70 + b"]" * 70),
     "nesting deeper than the scan goes"),
    (_body([ROW]).replace(b'"detailCode":0', b'"detailCode":01'), "a number with a leading zero"),
    (_body([ROW]).replace(b'"detailCode":0', b'"detailCode":-'), "a sign without digits"),
    (_body([ROW]).replace(b'"eventDescription":null', b'"eventDescription":nul'), "a misspelt literal"),
    (_body([ROW]).replace(b'"total":1', b'"total":1,'), "a trailing comma"),
    (b"[" + orjson.dumps(ROW) + b"]", "a top-level array"),
    (b'{"data":{"a":1}}', "data that is not an array"),
    (b'{"data":[1,2]}', "rows that are not objects"),
    (b'{"data":[{}]}', "an empty row"),
    (b'{"total":0}', "no data"),
    (b"{}", "an empty object"),
    (b"\xef\xbb\xbf" + _body([ROW]), "a byte-order mark"),
    (b"", "nothing"),
])
def test_bodies_that_are_not_plain_regular_json_are_declined(body, why):
    """Declined: the scanner returns None and the typed decode, or the generic one after it, decides."""
    assert ps._shiftscan.scan(body) is None, why


def test_a_declined_body_decodes_as_it_did_without_the_scanner(monkeypatch):
    """Where the scanner declines and msgspec accepts (an escape in a key), `decode_regular` gives msgspec's
    columns; without the scanner at all, every body gives the columns it gives with it."""
    escaped = _body([ROW]).replace(b'"typeCode"', b'"typ\\u0065Code"')
    assert ps._shiftscan.scan(escaped) is None
    chart = ps.decode_regular(escaped)
    assert isinstance(chart, ps.RegularChart) and (chart.columns == _typed(escaped)).all()
    plain = _body([ROW, {**ROW, "startTime": "5:07"}])
    with_scanner = ps.decode_regular(plain)
    as_text = ps.decode_regular(plain.decode())  # a str body: msgspec reads it, into the same columns
    monkeypatch.setattr(ps, "_shiftscan", None)
    without = ps.decode_regular(plain)
    assert (with_scanner.columns == without.columns).all() and with_scanner.columns[4].tolist() == [20, ps.ODD_CLOCK]
    assert (as_text.columns == without.columns).all()
    assert ps.decode_regular(_body([{**ROW, "playerId": 2**63}])) is None


_ALPHABET = b'{}[]":,.-+eE0123456789 \\untrlfasx\t\n\xc3\xa9\xff\x00'


def _mutations(base: bytes, rng: random.Random, count: int):
    for _ in range(count):
        body = bytearray(base)
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(body))
            op = rng.random()
            if op < 0.4:
                body[at] = rng.choice(_ALPHABET)
            elif op < 0.6:
                body.insert(at, rng.choice(_ALPHABET))
            elif op < 0.8:
                del body[at]
            else:  # a slice copied elsewhere (keys twice, rows twice, nesting)
                end = min(len(body), at + rng.randint(1, 40))
                body[rng.randrange(len(body)):0] = body[at:end]
        yield bytes(body)


def test_mutated_bodies_scan_to_the_typed_columns_or_are_declined():
    """A fuzz: 4,000 mutations of a small chart (bytes changed, inserted, deleted, slices copied). Wherever the
    scanner reads a body, msgspec's typed decode, which it stands in for, reads it too and gives the very same
    columns: the scanner never reads more than that decode would, nor differently. (Both skip a field nobody
    reads without judging its number's range: 2.5e999 there passes both, though orjson refuses it.)"""
    base = _body([ROW, {**ROW, "typeCode": 505, "eventDetails": {"a": [1, 2.5]}}, {**ROW, "startTime": "19:59"}])
    rng = random.Random(20261205)
    read = 0
    for body in _mutations(base, rng, 4000):
        got = _scanned(body)
        if got is None:
            continue
        read += 1
        want = _typed(body)
        assert want is not None and got.shape == want.shape and (got == want).all(), body
    assert 200 < read < 4000  # both outcomes were exercised
