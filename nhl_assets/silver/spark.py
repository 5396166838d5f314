"""Silver on Spark: the bronze rows of a window are joined per game on Spark and parsed in Spark tasks.

Each task receives a batch of games (ledger row and the three raw payloads of each game, joined by
gameId) and runs the project's pure parser, boxscore reconciliation and expectations on it
(`silver.build.parse_part`, the same function the polars engine calls on a chunk of days). Its result
travels back as Arrow IPC and the driver combines the parts, validating the window's schedule, with
`silver.build.assemble`, again the polars engine's own code; the storage module then commits it. So the
engines share every rule about what is parsed, reconciled, quarantined and written, and differ only in
where the parsing runs: on a cluster, across its executors.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime, timezone

import orjson
import polars as pl
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import from_arrow_schema
from pyspark.sql.types import BinaryType, StringType, StructField, StructType

from nhl_assets.bronze import tables as bt
from nhl_assets.engine.spark_io import read_delta, to_arrow
from nhl_assets.dates import DateWindow
from nhl_assets.silver import build as sb
from nhl_assets.silver.inputs import (
    ENDPOINT_OF_TABLE,
    LEDGER_COLUMNS,
    POINTER_COLUMNS,
    SCHEDULE_COLUMNS,
    WindowInputs,
    add_games,
    add_schedules,
)
from nhl_assets.storage.delta import Warehouse

#: the frames of a part, serialized as Arrow IPC, plus its counters as JSON
_FRAMES = (sb.PLAYERS, sb.TEAMS, sb.GOALIES, sb.SHOTS, sb.SCHEDULE)
_BLOBS = ("players", "teams", "goalies", "shots", "schedule", "pointers", "quarantine", "mismatches")
PART_SCHEMA = StructType([*(StructField(n, BinaryType()) for n in _BLOBS), StructField("meta", StringType())])
PART_ARROW_SCHEMA = pa.schema([*(pa.field(n, pa.binary()) for n in _BLOBS), pa.field("meta", pa.string())])

#: column prefix of each bronze table in the per-game join
_ALIASES = {bt.GAMES: "ledger", **{t: t.split("/")[1] for t in ENDPOINT_OF_TABLE}}


def _ipc(frame: pl.DataFrame) -> bytes:
    if frame.width == 0:
        return b""
    buf = io.BytesIO()
    frame.write_ipc(buf)
    return buf.getvalue()


def _frame(blob: bytes) -> pl.DataFrame:
    return pl.read_ipc(io.BytesIO(blob)) if blob else pl.DataFrame()


def encode_part(part: sb.ParsedPart) -> pa.RecordBatch:
    """One row holding a whole part (how a Spark task hands its result back)."""
    frames = [part.frames[t] for t in _FRAMES] + [part.pointers, part.quarantine, part.mismatches]
    meta = {"reconciliation": part.reconciliation, "games": part.games,
            "games_with_shift_data": part.games_with_shift_data, "incomplete_games": part.incomplete_games}
    return pa.RecordBatch.from_pylist([{**{n: _ipc(f) for n, f in zip(_BLOBS, frames)},
                                        "meta": orjson.dumps(meta).decode()}], schema=PART_ARROW_SCHEMA)


def decode_part(row: dict) -> sb.ParsedPart:
    """The inverse of `encode_part`, on the driver."""
    meta = orjson.loads(row["meta"])
    frames = {t: _frame(row[n]) for t, n in zip(_FRAMES, _BLOBS)}
    frames = {t: f if f.width else pl.DataFrame(schema=sb.SCHEMAS[t]) for t, f in frames.items()}
    quarantine = _frame(row["quarantine"])
    return sb.ParsedPart(
        frames=frames, pointers=_frame(row["pointers"]),
        quarantine=quarantine if quarantine.width else pl.DataFrame(schema=sb.QUARANTINE_SCHEMA),
        mismatches=_frame(row["mismatches"]), reconciliation=meta["reconciliation"], games=meta["games"],
        games_with_shift_data=meta["games_with_shift_data"], incomplete_games=meta["incomplete_games"])


def _split_row(row: dict) -> tuple[dict | None, dict[str, dict]]:
    """A joined per-game row back into its ledger row and its response rows (absent sides are None)."""
    ledger = None
    if row.get("ledger__gameDate") is not None:
        ledger = {c: row[f"ledger__{c}"] for c in LEDGER_COLUMNS if c != "gameId"} | {"gameId": row["gameId"]}
    payloads = {}
    for table in ENDPOINT_OF_TABLE:
        alias = _ALIASES[table]
        if row.get(f"{alias}__gameDate") is not None:
            payloads[table] = {c: row[f"{alias}__{c}"] for c in POINTER_COLUMNS if c != "gameId"} | \
                {"gameId": row["gameId"]}
    return ledger, payloads


def parse_batches(batches: Iterator[pa.RecordBatch], now: datetime) -> Iterator[pa.RecordBatch]:
    """The Spark task: parse each batch of joined per-game rows into one encoded part."""
    for batch in batches:
        if not batch.num_rows:
            continue
        ledger: list[dict] = []
        payload_rows: dict[str, list[dict]] = {t: [] for t in ENDPOINT_OF_TABLE}
        for row in batch.to_pylist():
            game, payloads = _split_row(row)
            if game is not None:
                ledger.append(game)
            for table, r in payloads.items():
                payload_rows[table].append(r)
        inputs = WindowInputs()
        add_games(inputs, ledger, payload_rows)
        yield encode_part(sb.parse_part(inputs, now))


def _side(df: DataFrame, alias: str) -> DataFrame:
    return df.select("gameId", *[df[c].alias(f"{alias}__{c}") for c in df.columns if c != "gameId"])


def _bronze(spark: SparkSession, wh: Warehouse, table: str, window: DateWindow, columns: list[str],
            native: bool) -> DataFrame:
    df = read_delta(spark, wh, table, window, columns, native=native)
    if df is None:  # a warehouse whose bronze was never written: nothing to parse
        df = spark.createDataFrame([], from_arrow_schema(bt.SCHEMAS[table])).select(*columns)
    return df


def games_frame(spark: SparkSession, wh: Warehouse, window: DateWindow, native: bool = False) -> DataFrame:
    """One row per game of the window: its ledger row and its three responses, full-outer joined so a
    response without a ledger row (or the reverse) reaches the parser exactly as in the polars engine."""
    joined = _side(_bronze(spark, wh, bt.GAMES, window, LEDGER_COLUMNS, native), _ALIASES[bt.GAMES])
    for table in ENDPOINT_OF_TABLE:
        joined = joined.join(_side(_bronze(spark, wh, table, window, POINTER_COLUMNS, native), _ALIASES[table]),
                             on="gameId", how="full")
    return joined


def build_window(spark: SparkSession, wh: Warehouse, window: DateWindow, *, native: bool = False) -> sb.SilverWindow:
    """Silver for `window` parsed on Spark; the same `SilverWindow` the polars engine returns."""
    now = datetime.now(timezone.utc)
    parts_df = games_frame(spark, wh, window, native).mapInArrow(lambda it: parse_batches(it, now), PART_SCHEMA)
    parts = [decode_part(r) for r in to_arrow(parts_df).to_pylist()]
    schedule = WindowInputs()
    add_schedules(schedule, to_arrow(_bronze(spark, wh, bt.SCHEDULE, window, SCHEDULE_COLUMNS, native)).to_pylist())
    parts.append(sb.parse_part(schedule, now))
    return sb.assemble(parts, now)
