"""Dagster resources shared by every layer: the NHL API source and the Delta warehouse."""

from __future__ import annotations

from typing import Optional, Union

from dagster import ConfigurableResource
from dagster_deltalake import AzureConfig, GcsConfig, LocalConfig, S3Config
from pydantic import Field

from nhl_assets import settings
from nhl_assets.source.client import NHLSource, SourceSettings
from nhl_assets.storage.delta import Warehouse


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
        return NHLSource(self.source_settings())


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
        from nhl_assets.ops.migrate import ensure_current

        options = {k: v for k, v in self.storage.str_dict().items() if k != "provider"} or None
        wh = Warehouse(self.root or settings.warehouse_root(), storage_options=options)
        ensure_current(wh)
        return wh
