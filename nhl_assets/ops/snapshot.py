"""Where migration files written before snapshots moved to `nhl_assets.storage.snapshot` import them from.

Applied migration files are frozen (the ledger keeps their checksums), so the name they import stays
here; everything else imports `nhl_assets.storage.snapshot`.
"""

from nhl_assets.storage.snapshot import fingerprint  # noqa: F401  (migration 0003)
