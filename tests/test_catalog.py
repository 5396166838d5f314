"""The table registry is the one home of every table's facts, and everything else agrees with it.

- the tables the migrations produce on an empty warehouse equal the registry: the same tables, columns in
  the same order with the same Delta types and nullability, and the same partition columns;
- the Dagster assets take key, partitioning, column schema and key columns from it;
- what the code writes is the registry's schema (silver, gold), so a column exists in one place only.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from deltalake.schema import ArrayType, PrimitiveType

from nhl_assets import catalog, specs
from nhl_assets.catalog import Table, columns
from nhl_assets.storage import migrations as mg
from nhl_assets.storage.delta import Warehouse
from tests.helpers import REPO


def _delta_type(t: object) -> str:
    """A Delta type as the registry spells it (Spark SQL DDL: `int` for Delta's `integer`)."""
    if isinstance(t, PrimitiveType):
        return {"integer": "int"}.get(t.type, t.type)
    if isinstance(t, ArrayType):
        return f"array<{_delta_type(t.element_type)}>"
    raise AssertionError(f"a type the registry cannot spell: {t}")


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Warehouse:
    wh = Warehouse(str(tmp_path_factory.mktemp("wh")))
    mg.apply(wh, log=lambda _msg: None)
    return wh


def _tables_under(root: Path) -> set[str]:
    return {str(p.parent.relative_to(root)) for p in root.glob("*/*/_delta_log")}


def test_migrations_create_exactly_the_registry_tables(migrated):
    made = {t for t in _tables_under(Path(migrated.root)) if not t.startswith("_meta/")}
    assert made == set(catalog.TABLES)


@pytest.mark.parametrize("name", list(catalog.TABLES))
def test_migrated_table_equals_registry(migrated, name):
    table = catalog.info(name)
    dt = migrated.open(name)
    got = [(f.name, _delta_type(f.type), f.nullable) for f in dt.schema().fields]
    want = [(c.name, c.type, c.nullable) for c in table.columns]
    assert got == want, f"{name}: migrations and the registry disagree; a change is a registry line plus a migration"
    assert list(dt.metadata().partition_columns) == list(table.partition_by)


@pytest.mark.unit
def test_registry_is_consistent():
    for t in catalog.TABLES.values():
        assert t.layer in ("bronze", "silver", "gold")
        assert all(c.description for c in t.columns), f"{t.name}: every column says what it is"
        assert t.description
        if t.partitioned:  # a game-date partition selects its rows by the date column
            assert t.date_column, t.name
        else:  # refreshed whole: nothing to partition on disk either
            assert t.partition_by == (), t.name


@pytest.mark.unit
def test_column_lines_are_checked():
    with pytest.raises(ValueError, match="bad column line"):
        columns("gameId lng -- a typo in the type")
    with pytest.raises(ValueError, match="declared twice"):
        columns("a long\na int")
    col, = columns("body binary not null -- raw bytes")
    assert (col.name, col.type, col.nullable, col.description) == ("body", "binary", False, "raw bytes")


@pytest.mark.unit
def test_assets_take_their_facts_from_the_registry():
    from nhl_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    for t in catalog.TABLES.values():
        node = graph.get(specs.asset_key(t))
        assert (node.partitions_def is not None) == t.partitioned, t.name
        md = node.metadata
        assert md["dagster/table_name"] == t.name
        assert [(c.name, c.type) for c in md["dagster/column_schema"].columns] == [(c.name, c.type) for c in t.columns]
        assert md.get("key") == (", ".join(t.key) if t.key else None)
        assert node.tags["update"] == ("append-by-partition" if t.partitioned else "refresh-whole")


@pytest.mark.unit
def test_code_writes_the_registry_schemas():
    from nhl_assets.bronze import tables as bt
    from nhl_assets.parse import game_stats as gs, schedule as sch
    from nhl_assets.silver import build as sb
    from nhl_assets.transform import features as tf, model as tm
    from nhl_assets.transform.season_stats import skater_season_stats

    def same(a: Table, schema) -> bool:
        return list(dict(schema).items()) == list(a.polars_schema.items())

    assert same(catalog.silver.PLAYER_GAME_STATS, gs.PLAYER_SCHEMA)
    assert same(catalog.silver.TEAM_GAME_STATS, gs.TEAM_SCHEMA)
    assert same(catalog.silver.GOALIE_GAME_STATS, gs.GOALIE_SCHEMA)
    assert same(catalog.silver.SCHEDULE, sch.SCHEDULE_SCHEMA)
    assert same(catalog.silver.QUARANTINE, sb.QUARANTINE_SCHEMA)
    assert same(catalog.gold.UPCOMING_SCHEDULE, sch.UPCOMING_SCHEMA)
    assert same(catalog.gold.PLAYER_GAME_FEATURES, tf.PLAYER_FEATURE_SCHEMA)
    assert same(catalog.gold.TEAM_GAME_FEATURES, tf.TEAM_FEATURE_SCHEMA)
    assert same(catalog.gold.SOG_PREDICTIONS, tm.PREDICTION_SCHEMA)
    assert same(catalog.gold.SKATER_SEASON_STATS, skater_season_stats(catalog.silver.PLAYER_GAME_STATS.empty()).schema)
    assert set(tf.PLAYER_FEATURES) <= set(tf.PLAYER_FEATURE_SCHEMA)
    assert set(tf.TEAM_FEATURES) <= set(tf.TEAM_FEATURE_SCHEMA)
    for name, schema in bt.SCHEMAS.items():
        assert schema == catalog.info(name).arrow_schema


@pytest.mark.unit
def test_readme_catalogue_matches_registry():
    readme = (REPO / "README.md").read_text().split("## Table catalogue", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z]+/\w+)` \| ([^|]*) \| ([^|]*) \|", readme, re.M)
    assert sorted(r[0] for r in rows) == sorted(catalog.TABLES), "README's table catalogue lists every table once"
    for name, key, partitioned in rows:
        t = catalog.info(name)
        assert key.strip().strip("`") == (", ".join(t.key) if t.key else "-"), name
        assert partitioned.strip().startswith("daily") == t.partitioned, name


@pytest.mark.unit
def test_tables_command_prints_the_registry(capsys):
    from nhl_assets.cli import main

    with pytest.raises(SystemExit) as done:
        main(["tables", "silver/goalie_game_stats"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert all(c.name in out for c in catalog.silver.GOALIE_GAME_STATS.columns)
    with pytest.raises(SystemExit) as bad:
        main(["tables", "silver/nope"])
    assert bad.value.code == 2
    assert "invalid choice: 'silver/nope'" in capsys.readouterr().err


#: The README's "Adding a column" example, as a migration file (the registry line is the same text).
_ADD_COLUMN = '''
"""NNNN: silver/team_game_stats.faceOffsLostFor (example from the README)."""

DESCRIPTION = "add faceOffsLostFor to silver/team_game_stats"
TABLES = ["silver/team_game_stats"]
LINE = "faceOffsLostFor long -- faceoffs lost by the team"


def upgrade(ctx) -> None:
    ctx.add_columns("silver/team_game_stats", LINE)


def validate(ctx) -> list[str]:
    return [] if "faceOffsLostFor" in ctx.read("silver/team_game_stats").schema.names else ["column missing"]
'''


def test_adding_a_column_is_a_registry_line_plus_a_migration(tmp_path):
    """The README's recipe on a warehouse holding rows: the migration adds the column in place (rows kept,
    reading null), and the migrated table equals the registry with the new line."""
    import dataclasses
    import shutil
    from datetime import date

    import polars as pl

    from nhl_assets.dates import DateWindow

    folder = tmp_path / "migrations"
    shutil.copytree(REPO / "migrations", folder)
    wh = Warehouse(str(tmp_path / "wh"))
    mg.apply(wh, migrations=mg.load_migrations(folder), log=lambda _m: None)
    teams = catalog.silver.TEAM_GAME_STATS
    day = DateWindow(date(2024, 10, 10), date(2024, 10, 10))
    rows = teams.conform(pl.DataFrame({"gameId": [2024020001], "gameDate": [day.start], "season": [20242025],
                                       "team": ["TOR"], "situation": ["all"], "goalsFor": [3]}, strict=False)
                         .with_columns([pl.lit(None).alias(c) for c in teams.column_names
                                        if c not in ("gameId", "gameDate", "season", "team", "situation", "goalsFor")]))
    wh.replace_window(teams.name, rows.to_arrow(), day, partition_by=list(teams.partition_by))

    following = max(int(p.name[:4]) for p in folder.glob("[0-9][0-9][0-9][0-9]_*.py")) + 1
    (folder / f"{following:04d}_team_faceoffs_lost.py").write_text(_ADD_COLUMN)
    log: list[str] = []
    mg.apply(wh, migrations=mg.load_migrations(folder), log=log.append)
    assert any("add to silver/team_game_stats: faceOffsLostFor long" in line for line in log)

    extended = dataclasses.replace(teams, columns=teams.columns + columns(
        "faceOffsLostFor long -- faceoffs lost by the team"))
    dt = wh.open(teams.name)
    assert [(f.name, _delta_type(f.type), f.nullable) for f in dt.schema().fields] == \
        [(c.name, c.type, c.nullable) for c in extended.columns]
    stored = pl.from_arrow(dt.to_pyarrow_table())
    assert stored.height == 1 and stored["goalsFor"][0] == 3 and stored["faceOffsLostFor"][0] is None


def test_add_columns_refuses_what_would_rewrite_data(migrated):
    import pyarrow as pa

    from nhl_assets.storage.delta import SchemaChangeRefused

    with pytest.raises(SchemaChangeRefused, match="exists already"):
        migrated.add_columns("silver/schedule", pa.schema([pa.field("venue", pa.string())]))
    with pytest.raises(SchemaChangeRefused, match="not nullable"):
        migrated.add_columns("silver/schedule", pa.schema([pa.field("attendance", pa.int64(), nullable=False)]))
