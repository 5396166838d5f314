"""Versioned migrations: the only way a table's definition changes beyond adding columns.

The replaced pipeline lost 3 of 4 bronze tables in one migration because re-creating a table was taken
for converting it, one table only was backed up, and nothing compared counts before moving on. Here:

1. migrations are ordered files in `migrations/` (`0001_initial_tables.py`, ...), each declaring the
   tables it touches, an `upgrade`, a `validate`, and a `downgrade` where one exists;
2. before anything runs, `apply` records the Delta version of every declared table in the ledger
   `_meta/migrations` (a Delta table; append-only);
3. after `upgrade`, every declared table is checked against its snapshot from before (rows per game date,
   key uniqueness, max game date — unless the migration declares that it changes a table's rows) and the
   migration's own `validate` runs;
4. on any failure every declared table is restored (time travel, a RESTORE commit) to its recorded version,
   and the ledger and the error say so. `rollback` returns to the versions before the last migration.
5. a migration file that changed after it was applied is refused (sha256 in the ledger).

A migration module defines `ID` (the file's number), `DESCRIPTION`, `TABLES`, `upgrade(ctx)`,
`validate(ctx) -> list[str]` (problems; empty when fine), optionally `downgrade(ctx)`, `ROWS_CHANGE`
(tables whose row counts may legitimately change) and `AUTO = True` for migrations that only create
missing tables (applied automatically when a run opens the warehouse).
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import hashlib
import importlib.util
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import pyarrow as pa
from deltalake import Schema as DeltaSchema

from nhl_assets.catalog import META_MIGRATIONS, TABLES
from nhl_assets.catalog.columns import columns as catalog_columns
from nhl_assets.storage.snapshot import Snapshot, snapshot
from nhl_assets.storage.delta import Warehouse

Log = Callable[[str], None]

LEDGER_SCHEMA = pa.schema([
    pa.field("migration", pa.string(), nullable=False),
    pa.field("name", pa.string()),
    pa.field("checksum", pa.string()),
    pa.field("action", pa.string(), nullable=False),  # apply / rollback
    pa.field("status", pa.string(), nullable=False),  # started / applied / failed / rolled_back
    pa.field("at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("tables", pa.string()),  # JSON list
    pa.field("versions_before", pa.string()),  # JSON {table: version or null}
    pa.field("versions_after", pa.string()),
    pa.field("rows_before", pa.string()),
    pa.field("rows_after", pa.string()),
    pa.field("message", pa.string()),
    pa.field("user", pa.string()),
])


class MigrationError(RuntimeError):
    """A migration that was refused, or failed and was restored."""


class MigrationsPending(MigrationError):
    """The warehouse's tables lag the code's migrations: a run refuses to start before they are applied."""

    def __init__(self, root: str, pending: list[str]) -> None:
        super().__init__(f"the warehouse {root} has {len(pending)} pending migration(s) ({', '.join(pending)}): "
                         "runs refuse to write until `nhl-assets migrate apply` has applied them (`nhl-assets "
                         "migrate plan` shows what they change)")
        self.pending = pending


def migrations_dir() -> Path:
    """`$NHL_MIGRATIONS_DIR`, else `migrations/` at the top of the repository."""
    env = os.environ.get("NHL_MIGRATIONS_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "migrations"


# ----------------------------------------------------------------------------------------------------
# column specs (how migration files spell schemas)
# ----------------------------------------------------------------------------------------------------

def columns(spec: str) -> pa.Schema:
    """`name type [not null] -- comment` per line -> an Arrow schema with the comments as field metadata.

    The registry's own spelling (`nhl_assets.catalog.columns`), so a migration and the registry declare a
    column with the same line."""
    return pa.schema([c.arrow for c in catalog_columns(spec)])


# ----------------------------------------------------------------------------------------------------
# migration files
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Migration:
    id: str
    name: str
    path: Path
    checksum: str
    module: ModuleType

    @property
    def tables(self) -> list[str]:
        return list(self.module.TABLES)

    @property
    def description(self) -> str:
        return getattr(self.module, "DESCRIPTION", "")

    @property
    def auto(self) -> bool:
        return bool(getattr(self.module, "AUTO", False))

    @property
    def rows_change(self) -> set[str]:
        return set(getattr(self.module, "ROWS_CHANGE", ()))

    @property
    def reversible(self) -> bool:
        return hasattr(self.module, "downgrade")


_FILE = re.compile(r"^(\d{4})_(\w+)\.py$")


def load_migrations(folder: Path | None = None) -> list[Migration]:
    """Every `NNNN_name.py` of the folder, in order; numbers must be unique."""
    folder = folder or migrations_dir()
    out: list[Migration] = []
    for path in sorted(folder.glob("*.py")):
        m = _FILE.match(path.name)
        if not m:
            continue
        data = path.read_bytes()
        spec = importlib.util.spec_from_file_location(f"nhl_migration_{m[1]}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for attr in ("TABLES", "upgrade", "validate"):
            if not hasattr(module, attr):
                raise MigrationError(f"{path.name} does not define {attr}")
        out.append(Migration(m[1], m[2], path, hashlib.sha256(data).hexdigest(), module))
    ids = [x.id for x in out]
    if len(ids) != len(set(ids)):
        raise MigrationError(f"duplicate migration numbers in {folder}: {ids}")
    return out


# ----------------------------------------------------------------------------------------------------
# the ledger
# ----------------------------------------------------------------------------------------------------


def ledger(wh: Warehouse) -> list[dict[str, Any]]:
    """Every ledger row, oldest first.

    Rows made by polars (`read_rows`), not by Arrow's `to_pylist`: pyarrow converts a zoned timestamp
    through pandas, which it imports (0.1 s) into every process opening the warehouse (`ensure_current`
    reads this ledger), where nothing else of a silver or gold run loads pandas."""
    rows = wh.read_rows(META_MIGRATIONS) or []
    return sorted(rows, key=lambda r: r["at"])


def _record(wh: Warehouse, migration: Migration, action: str, status: str, *, before: dict | None = None,
            after: dict | None = None, message: str = "") -> None:
    def versions(snaps: dict | None) -> str | None:
        return None if snaps is None else json.dumps({t: (s.version if s else None) for t, s in snaps.items()})

    def rows(snaps: dict | None) -> str | None:
        return None if snaps is None else json.dumps({t: (s.rows if s else None) for t, s in snaps.items()})

    row = {"migration": migration.id, "name": migration.name, "checksum": migration.checksum, "action": action,
           "status": status, "at": datetime.now(timezone.utc), "tables": json.dumps(migration.tables),
           "versions_before": versions(before), "versions_after": versions(after), "rows_before": rows(before),
           "rows_after": rows(after), "message": message, "user": _user()}
    Warehouse(wh.root, wh.storage_options, create_missing=True).append(
        META_MIGRATIONS, pa.Table.from_pylist([row], schema=LEDGER_SCHEMA), operation=f"migration_{status}")


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name is not an error worth failing a migration for
        return "unknown"


@dataclass
class State:
    migration: Migration
    status: str  # pending / applied / changed (applied, file edited since)
    last: dict[str, Any] | None  # latest ledger row of this migration


def states(wh: Warehouse, migrations: list[Migration] | None = None) -> list[State]:
    """Where each migration stands: pending, applied, or changed since it was applied."""
    migrations = load_migrations() if migrations is None else migrations
    last: dict[str, dict] = {}
    for row in ledger(wh):
        if row["status"] in ("applied", "rolled_back", "failed"):
            last[row["migration"]] = row
    out = []
    for m in migrations:
        row = last.get(m.id)
        if row is None or row["status"] != "applied":
            out.append(State(m, "pending", row))
        elif row["checksum"] != m.checksum:
            out.append(State(m, "changed", row))
        else:
            out.append(State(m, "applied", row))
    return out


# ----------------------------------------------------------------------------------------------------
# running one migration
# ----------------------------------------------------------------------------------------------------


@dataclass
class MigrationContext:
    """What a migration's functions get: reads, the allowed writes, snapshots from before, a plan log.

    In a dry run every write is described (table, columns, partitioning, rows affected) instead of done.
    """

    wh: Warehouse
    migration: Migration
    dry_run: bool
    log: Log
    before: dict[str, Snapshot | None] = field(default_factory=dict)
    planned: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.planned.append(text)
        self.log(("  would: " if self.dry_run else "  ") + text)

    def exists(self, table: str) -> bool:
        return self.wh.exists(table)

    def read(self, table: str, version: int | None = None) -> pa.Table:
        dt = self.wh.open(table, version=version)
        if dt is None:
            raise MigrationError(f"{table} does not exist")
        return dt.to_pyarrow_table()

    def read_before(self, table: str) -> pa.Table | None:
        snap = self.before.get(table)
        return None if snap is None else self.read(table, version=snap.version)

    def partition_by(self, table: str) -> list[str]:
        return list(self.wh.open(table).metadata().partition_columns)

    def create_table(self, table: str, schema: pa.Schema, *, partition_by: list[str] | None = None,
                     description: str | None = None, properties: dict[str, str] | None = None) -> None:
        self._declared(table)
        if self.exists(table):
            self.note(f"keep {table}: exists already (never re-created; its columns must be compatible)")
            if not self.dry_run:
                self.wh.create_table(table, schema, None, description)  # only checks compatibility
            return
        parts = f", partitioned by {', '.join(partition_by)}" if partition_by else ""
        self.note(f"create {table}: {len(schema)} columns{parts}")
        if not self.dry_run:
            self.wh.create_table(table, schema, partition_by, description, properties,
                                 run_id=f"migration-{self.migration.id}")

    def add_columns(self, table: str, spec: str) -> None:
        """Add nullable columns, written as the registry writes them (`name type -- comment` per line); the
        rows already stored read them as null. Metadata only: no data file is rewritten."""
        self._declared(table)
        schema = columns(spec)
        self.note(f"add to {table}: {', '.join(f'{f.name} {_type_name(t)}' for f, t in zip(schema, _delta_types(schema)))}")
        if not self.dry_run:
            self.wh.add_columns(table, schema, run_id=f"migration-{self.migration.id}")

    def rewrite(self, table: str, data: pa.Table, *, partition_by: list[str] | None = None) -> None:
        """Replace the table's content and definition in one commit (the old version stays restorable)."""
        self._declared(table)
        current = self.wh.open(table)
        old = {f.name: _type_name(f.type) for f in current.schema().fields}
        new = {f.name: _type_name(f.type) for f in DeltaSchema.from_arrow(data.schema).fields}
        changes = [f"+{c}" for c in new if c not in old] + [f"-{c}" for c in old if c not in new] + \
            [f"~{c} {old[c]} -> {new[c]}" for c in new if c in old and old[c] != new[c]]
        parts_before = list(current.metadata().partition_columns)
        parts = parts_before if partition_by is None else partition_by
        moved = f"; partitioning {parts_before} -> {parts}" if parts != parts_before else ""
        self.note(f"rewrite {table}: {data.num_rows} rows; columns {', '.join(changes) or 'unchanged'}{moved}")
        if not self.dry_run:
            self.wh.rewrite_table(table, data, partition_by=parts, run_id=f"migration-{self.migration.id}",
                                  extra_metadata={"nhl_assets.migration": self.migration.id})

    def copy(self, source: str, target: str, data: pa.Table, *, partition_by: list[str] | None) -> None:
        """Write `data` as the whole content of a side table (blue/green builds, backups under `_meta/`).

        Re-running a migration after a failure replaces a side table's content instead of adding to it.
        """
        self.note(f"build {target} beside {source}: {data.num_rows} rows, partitioned by {partition_by or '-'}")
        if self.dry_run:
            return
        side = Warehouse(self.wh.root, self.wh.storage_options, create_missing=True)
        run_id = f"migration-{self.migration.id}"
        if side.exists(target):
            side.rewrite_table(target, data, partition_by=partition_by or [], run_id=run_id)
            return
        side.create_table(target, data.schema, partition_by, f"copy of {source} by migration {self.migration.id}",
                          run_id=run_id)
        side.append(target, data, operation=f"migration_{self.migration.id}_copy")

    def _declared(self, table: str) -> bool:
        if table not in self.migration.tables and not table.startswith("_meta/"):
            raise MigrationError(f"migration {self.migration.id} writes {table} but does not declare it in TABLES")
        return True


def _delta_types(schema: pa.Schema) -> list[object]:
    return [f.type for f in DeltaSchema.from_arrow(schema).fields]


def _type_name(t: object) -> str:
    return re.sub(r'^PrimitiveType\("(.*)"\)$', r"\1", str(t))


def _generic_problems(m: Migration, before: dict[str, Snapshot | None], after: dict[str, Snapshot | None]
                      ) -> list[str]:
    """Rows per game date, key uniqueness and max game date must hold across the migration."""
    problems = []
    for table in m.tables:
        b, a = before.get(table), after.get(table)
        if a is None:
            if b is not None:
                problems.append(f"{table} existed before ({b.rows} rows) and is gone")
            continue
        lost = [c for c in b.columns if c not in a.columns] if b is not None else []
        if lost:
            problems.append(f"{table}: column(s) {', '.join(lost)} would be lost")
        if a.duplicate_keys:
            problems.append(f"{table}: {a.duplicate_keys} duplicate keys after the migration")
        if b is None or table in m.rows_change:
            continue
        if a.rows != b.rows:
            problems.append(f"{table}: {b.rows} rows before, {a.rows} after")
        changed = sorted(d for d in set(a.per_date) | set(b.per_date) if a.per_date.get(d) != b.per_date.get(d))
        if changed:
            problems.append(f"{table}: rows per game date differ on {len(changed)} date(s), e.g. "
                            + ", ".join(f"{d}: {b.per_date.get(d, 0)} -> {a.per_date.get(d, 0)}" for d in changed[:3]))
        if a.max_date != b.max_date:
            problems.append(f"{table}: max game date {b.max_date} -> {a.max_date}")
    return problems


def _restore(wh: Warehouse, tables: list[str], before: dict[str, Snapshot | None], why: str, log: Log) -> list[str]:
    """Every table back to its recorded version; returns what was done, for the ledger and the error."""
    done = []
    for table in tables:
        b = before.get(table)
        dt = wh.open(table)
        if dt is None:
            continue
        target = 0 if b is None else b.version  # a table the migration created goes back to its empty version 0
        if dt.version() != target:
            res = wh.restore(table, target, reason=why)
            done.append(f"{table} -> version {target} ({res['rows']} rows)")
            log(f"  restored {table} to version {target} ({res['rows']} rows)")
    return done


@contextlib.contextmanager
def _lock(wh: Warehouse) -> Iterator[None]:
    """One migration runner at a time on a local warehouse (object stores: run migrations from one place)."""
    if "://" in wh.root:
        yield
        return
    os.makedirs(os.path.join(wh.root, "_meta"), exist_ok=True)
    with open(os.path.join(wh.root, "_meta", ".migrate.lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _snapshots(wh: Warehouse, tables: list[str]) -> dict[str, Snapshot | None]:
    return {t: snapshot(wh, t) for t in tables}


def _guarded(wh: Warehouse, m: Migration, action: str, step: Callable[[MigrationContext], None],
             log: Log) -> dict[str, Snapshot | None]:
    """Run `step` (upgrade or downgrade) between snapshots; validate; restore every table on failure."""
    before = _snapshots(wh, m.tables)
    ctx = MigrationContext(wh, m, False, log, before=before)
    _record(wh, m, action, "started", before=before)
    problems: list[str] = []
    after: dict[str, Snapshot | None] = {}
    try:
        step(ctx)
        after = _snapshots(wh, m.tables)
        problems = _generic_problems(m, before, after)
        if action == "apply":
            problems += list(m.module.validate(ctx) or [])
    except Exception as exc:  # noqa: BLE001 - any failure must restore, then re-raise as a MigrationError
        problems = [f"{type(exc).__name__}: {exc}"]
    if problems:
        restored = _restore(wh, m.tables, before, f"migration {m.id} {action} failed", log)
        after = _snapshots(wh, m.tables)
        msg = "; ".join(problems)
        _record(wh, m, action, "failed" if action == "apply" else "rollback_failed", before=before, after=after,
                message=msg + (" | restored: " + ", ".join(restored) if restored else " | nothing to restore"))
        raise MigrationError(f"migration {m.id}_{m.name} ({action}) failed validation and was rolled back: {msg}. "
                             f"Restored {', '.join(restored) or 'nothing (no table had changed)'}.")
    _record(wh, m, action, "applied" if action == "apply" else "rolled_back", before=before, after=after,
            message="" if action == "apply" else "downgrade")
    for t, s in after.items():
        log(f"  ok {t}: " + ("missing" if s is None else f"version {s.version}, {s.rows} rows"))
    return after


def run_one(wh: Warehouse, m: Migration, *, dry_run: bool, log: Log) -> dict[str, Any]:
    """Apply one migration with snapshot, validation and restore-on-failure."""
    log(f"{'plan' if dry_run else 'apply'} {m.id}_{m.name}: {m.description}")
    if dry_run:
        before = _snapshots(wh, m.tables)
        for t, s in before.items():
            log(f"  {t}: " + ("missing" if s is None else f"version {s.version}, {s.rows} rows"))
        ctx = MigrationContext(wh, m, True, log, before=before)
        m.module.upgrade(ctx)
        return {"migration": m.id, "dry_run": True, "planned": ctx.planned}
    after = _guarded(wh, m, "apply", m.module.upgrade, log)
    return {"migration": m.id, "dry_run": False, "after": {t: (s.summary() if s else None) for t, s in after.items()}}


def apply(wh: Warehouse, *, dry_run: bool = False, auto_only: bool = False, log: Log = print,
          migrations: list[Migration] | None = None) -> list[dict[str, Any]]:
    """Apply the pending migrations in order (or, with `auto_only`, those that only create tables).

    Stops at the first failure (which restores that migration's tables and raises `MigrationError`).
    """
    with _lock(wh):
        st = states(wh, migrations)
        changed = [s.migration for s in st if s.status == "changed"]
        if changed:
            raise MigrationError("refusing to migrate: applied migration file(s) changed since they were applied "
                                 f"({', '.join(m.path.name for m in changed)}); restore the applied version and "
                                 "write a new migration instead")
        pending = [s.migration for s in st if s.status == "pending"]
        if auto_only:
            pending = pending[:next((i for i, m in enumerate(pending) if not m.auto), len(pending))]
        if not pending:
            log("no pending migrations" + (" to apply automatically" if auto_only else ""))
        return [run_one(wh, m, dry_run=dry_run, log=log) for m in pending]


def _still_at(wh: Warehouse, table: str, version: int) -> bool:
    """`table` holds exactly `version`'s content: it is that version, or its newest commit restored that
    version (a later migration rolled back by time travel leaves such a commit; nothing was written since)."""
    current = wh.version(table)
    if current == version:
        return True
    latest = wh.history(table, limit=1)
    return bool(latest) and latest[0]["version"] == current and \
        latest[0]["metadata"].get("nhl_assets.restored_version") == str(version)


def rollback(wh: Warehouse, *, force: bool = False, dry_run: bool = False, log: Log = print,
             migrations: list[Migration] | None = None) -> dict[str, Any]:
    """Undo the last applied migration.

    When none of its tables changed since, every table returns to its version from before the migration
    (time travel: exact). When some did (new partitions were written on the new layout), restoring old
    versions would throw those writes away: the migration's `downgrade` converts the tables back instead,
    under the same snapshot/validation/restore guard as `apply`; a migration without a downgrade is then
    refused unless `force` (which does the time travel and loses the later writes).
    """
    with _lock(wh):
        applied = [s for s in states(wh, migrations) if s.status in ("applied", "changed")]
        if not applied:
            raise MigrationError("nothing to roll back: no migration is applied")
        last = max(applied, key=lambda s: s.last["at"])
        m, row = last.migration, last.last
        before = json.loads(row["versions_before"])
        after = json.loads(row["versions_after"])
        moved = [t for t, v in after.items() if v is not None and not _still_at(wh, t, v)]
        if moved and not force:
            if not m.reversible:
                raise MigrationError(f"refusing to roll back {m.id}_{m.name}: {', '.join(moved)} changed after it "
                                     "and it has no downgrade (time travel would undo those writes); use --force "
                                     "to restore the old versions anyway")
            log(f"rollback {m.id}_{m.name}: {', '.join(moved)} changed since; running its downgrade")
            if dry_run:
                ctx = MigrationContext(wh, m, True, log, before=_snapshots(wh, m.tables))
                m.module.downgrade(ctx)
                return {"migration": m.id, "dry_run": True, "downgrade": ctx.planned}
            _guarded(wh, m, "rollback", m.module.downgrade, log)
            return {"migration": m.id, "dry_run": False, "downgrade": True}
        log(f"rollback {m.id}_{m.name}: tables back to their versions before it")
        plan = {t: (0 if v is None else v) for t, v in before.items() if wh.exists(t) and wh.version(t) != (v or 0)}
        for t, v in plan.items():
            log(f"  {'would restore' if dry_run else 'restore'} {t} -> version {v}")
        if dry_run:
            return {"migration": m.id, "dry_run": True, "restore": plan}
        snaps = _snapshots(wh, m.tables)
        for t, v in plan.items():
            wh.restore(t, v, reason=f"rollback of migration {m.id}")
        _record(wh, m, "rollback", "rolled_back", before=snaps, after=_snapshots(wh, m.tables),
                message=f"restored {plan}")
        return {"migration": m.id, "dry_run": False, "restore": plan}


#: (warehouse root, migrations folder) -> the ledger's stamp right after that warehouse was last checked.
_CHECKED: dict[tuple[str, str], tuple[str, int]] = {}


def _ledger_stamp(wh: Warehouse) -> tuple[str, int] | None:
    """Which migration ledger the warehouse holds now: the Delta table's id (new whenever the table is
    created again, e.g. a deleted warehouse bootstrapped anew) and its version (moves with every migration
    applied or rolled back, by any process); None without a ledger. Reads the Delta log only, no rows."""
    dt = wh.open(META_MIGRATIONS)
    return None if dt is None else (dt.metadata().id, dt.version())


def ensure_current(wh: Warehouse, log: Log | None = None) -> list[dict[str, Any]]:
    """Called when a run opens the warehouse; checks again only when its migration ledger changed.

    A brand-new warehouse (no ledger, no table) gets every migration: there is nothing to protect yet, and a
    newcomer's first materialization works. An existing one is never migrated by a run: a pending (or an
    edited applied) migration raises `MigrationsPending` / `MigrationError` before anything is written, naming
    `nhl-assets migrate apply`, so a table's definition only changes when someone asks for it.

    The check reads the ledger and every migration file; it is skipped while the ledger is the one seen
    after the last check of this root (one Delta log read). A warehouse that is new, deleted, re-created or
    migrated since (here or by another process) is therefore checked again, and nothing needs resetting.
    """
    key = (wh.root, str(migrations_dir()))
    stamp = _ledger_stamp(wh)
    if stamp is not None and _CHECKED.get(key) == stamp:
        return []
    quiet: Log = log or (lambda _msg: None)
    if stamp is None and not any(wh.exists(t) for t in TABLES):
        done = apply(wh, log=quiet)
    else:
        st = states(wh)
        changed = [s.migration.path.name for s in st if s.status == "changed"]
        if changed:
            raise MigrationError(f"applied migration file(s) changed since they were applied ({', '.join(changed)}):"
                                 " restore the applied version and write a new migration instead")
        pending = [f"{s.migration.id}_{s.migration.name}" for s in st if s.status == "pending"]
        if pending:
            raise MigrationsPending(wh.root, pending)
        done = []
    after = _ledger_stamp(wh)
    if after is not None:
        _CHECKED[key] = after
    return done
