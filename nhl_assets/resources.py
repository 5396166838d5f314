"""Dagster resources shared by every layer: the NHL API source and the Delta warehouse."""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any, Optional, Union

from dagster import ConfigurableResource
from pydantic import Field, PrivateAttr

from nhl_assets import settings
from nhl_assets.source.types import SourceSettings
from nhl_assets.storage.delta import Warehouse
from nhl_assets.storage.migrations import ensure_current

if TYPE_CHECKING:
    from nhl_assets.source.client import NHLSource

#: where dagster-deltalake keeps its storage config classes
DELTALAKE_CONFIG_MODULE = "dagster_deltalake.config"


def deltalake_config_module() -> ModuleType:
    """dagster-deltalake's `config` module (its storage config classes), loaded without the package's
    `__init__` where the package is not loaded yet.

    Why: the package's `__init__` also loads its I/O manager, whose `handler.py` imports `pyarrow.dataset`,
    and `pyarrow._dataset` imports pandas as it loads (pyarrow 26: a module-level scalar expression asks
    pandas whether its value is array-like). That is 0.26 s of every process that loads these definitions
    (the command line's `dagster asset materialize`, each run, the code server), for four pydantic classes
    whose module imports only `dagster.Config`, and the project uses nothing else of the package (its
    I/O manager cannot write a window: see `storage/delta.py`). The module is registered under its own
    name, so a later `import dagster_deltalake` finds it there and keeps it: one class per name in the
    process either way (`tests/test_definitions.py` checks both orders and that pandas stays out).
    """
    module = sys.modules.get(DELTALAKE_CONFIG_MODULE)
    if module is not None:
        return module
    package = importlib.util.find_spec("dagster_deltalake")  # found, not run
    if package is None or not package.submodule_search_locations:
        raise ImportError("dagster-deltalake is not installed (pyproject.toml pins it)")
    spec = importlib.util.spec_from_file_location(
        DELTALAKE_CONFIG_MODULE, os.path.join(package.submodule_search_locations[0], "config.py"))
    if spec is None or spec.loader is None:
        raise ImportError(f"{DELTALAKE_CONFIG_MODULE} not found in {package.submodule_search_locations[0]}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[DELTALAKE_CONFIG_MODULE] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[DELTALAKE_CONFIG_MODULE]
        raise
    return module


_deltalake_config = deltalake_config_module()
LocalConfig, S3Config = _deltalake_config.LocalConfig, _deltalake_config.S3Config
AzureConfig, GcsConfig = _deltalake_config.AzureConfig, _deltalake_config.GcsConfig


class NHLApiResource(ConfigurableResource):
    """NHL API access (nhl-api-py, routed, retried, rate limited). Unset URLs come from the environment."""

    web_url: Optional[str] = Field(default=None, description="Base URL of api-web; default $NHL_API_WEB_URL.")
    stats_url: Optional[str] = Field(default=None, description="Base URL of the stats API; default "
                                                               "$NHL_API_STATS_URL.")
    timeout_s: float = Field(default=10.0, description="Per-request timeout in seconds.")
    max_attempts: int = Field(default=5, description="Attempts per request (429, 5xx, timeouts, bad JSON).")
    backoff_initial_s: float = Field(default=0.5, description="First backoff delay; doubles with jitter.")
    backoff_max_s: float = Field(default=30.0, description="Longest backoff delay between attempts.")
    rate_per_second: float = Field(default=20.0, description="Client-side request rate limit (0 = none).")
    concurrency: int = Field(default=4, description="Per-game requests in flight at once.")

    def source_settings(self) -> SourceSettings:
        return SourceSettings(
            web_url=(self.web_url or settings.api_web_url()).rstrip("/"),
            stats_url=(self.stats_url or settings.api_stats_url()).rstrip("/"),
            timeout_s=self.timeout_s,
            max_attempts=self.max_attempts,
            backoff_initial_s=self.backoff_initial_s,
            backoff_max_s=self.backoff_max_s,
            rate_per_second=self.rate_per_second,
            concurrency=self.concurrency,
        )

    def open(self) -> NHLSource:
        """A new source (with its own connection pool); close it when done (it is a context manager)."""
        from nhl_assets.source.client import NHLSource  # deferred: HTTP libraries, only where a source opens

        return NHLSource(self.source_settings())


class AutomationConfig(ConfigurableResource):
    """How the sensor treats late and corrected data (editable in the launchpad / Definitions)."""

    lookback_days: int = Field(default=3, description="Complete dates re-fetched once a day for stat corrections.")
    give_up_days: int = Field(default=10, description="Incomplete dates are re-requested until this old, then "
                                                      "reported.")
    retry_every_minutes: float = Field(default=60.0, description="Minutes between two requests of a date still "
                                                                 "incomplete (late shift chart, API error).")


class WarehouseResource(ConfigurableResource):
    """Where the Delta tables live. `root` defaults to $NHL_WAREHOUSE (local path or object-store URI);
    storage settings reuse dagster-deltalake's config classes (credentials for S3, GCS, Azure)."""

    root: Optional[str] = Field(default=None, description="Warehouse root; default $NHL_WAREHOUSE.")
    storage: Union[LocalConfig, S3Config, AzureConfig, GcsConfig] = Field(
        default_factory=LocalConfig, discriminator="provider",
        description="Object-store settings (dagster-deltalake config); credentials may also come from the "
                    "standard environment variables.")

    def get(self) -> Warehouse:
        """The warehouse, with its migrations current: a new warehouse is bootstrapped (every migration),
        an existing one gets pending create-only migrations; anything else needs `nhl-assets migrate apply`
        (writes to a table whose definition lags then fail naming that command)."""
        options = {k: v for k, v in self.storage.str_dict().items() if k != "provider"} or None
        wh = Warehouse(self.root or settings.warehouse_root(), storage_options=options)
        ensure_current(wh)
        return wh


class EngineResource(ConfigurableResource):
    """Which engine runs the silver parse and the gold feature transforms: `polars` in this process (the
    default) or `spark` through dagster-pyspark (a session created at the first use of `spark_session`:
    runs that never need it never start a JVM). Same tables, keys, schemas and rows either way.

    Choose per deployment with $NHL_ENGINE, or per run in the launchpad (`resources.engine.config`).
    `spark_config` goes to the session builder over the project's defaults (local mode on every core,
    UTC, Arrow); point `spark.master` at a cluster to scale out. `native_delta` reads with Spark's own
    Delta source where the delta-spark jars are on the classpath (refused with a clear error where not).

    Configuration and the session only: what each engine computes is chosen where it is computed
    (`nhl_assets.silver.engines`, `nhl_assets.gold.engines`), and how a result is committed by
    `nhl_assets.engine.write`. The session is built by dagster-pyspark's `LazyPySparkResource`
    (`engine.spark_io.spark_session`), which this class wraps instead of subclassing: a subclass needs
    dagster-pyspark, and with it pyspark and dagster-spark's config schema of every Spark setting, wherever
    these definitions load (the command line, every run, the code server): 85-86 ms of 0.84 s here, for a
    polars run that never uses them.
    """

    engine: Optional[str] = Field(default=None, description="polars | spark; default $NHL_ENGINE or polars.")
    spark_config: dict[str, Any] = Field(default_factory=dict,
                                         description="Spark settings over the engine's defaults.")
    workers: int = Field(default=0, description="polars engine: processes parsing a long silver window "
                                                "(0 = one per core; windows of one chunk always parse in-process).")
    native_delta: bool = Field(default=False, description="Read Delta with delta-spark (needs its jars) instead "
                                                          "of the snapshot's Parquet files listed by delta-rs.")
    _spark_session: Any = PrivateAttr(default=None)

    @property
    def spark_session(self) -> Any:
        """The Spark session (created on first use, then kept for the run)."""
        if self._spark_session is None:
            from nhl_assets.engine.spark_io import spark_session  # deferred: pyspark, only when Spark is used

            self._spark_session = spark_session(self.spark_config)
        return self._spark_session

    @property
    def name(self) -> settings.EngineName:
        return settings.check_engine(self.engine) if self.engine else settings.engine()

    @property
    def parse_workers(self) -> int:
        """Processes the polars engine parses a long silver window with."""
        return self.workers or os.cpu_count() or 1
