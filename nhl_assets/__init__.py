"""nhl_assets: NHL analytics data platform (Dagster asset graph on Delta Lake)."""
