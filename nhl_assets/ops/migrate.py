"""Where migration files written before the runner moved to `nhl_assets.storage.migrations` import it from.

Applied migration files are frozen (the ledger keeps their checksums), so the name they import stays
here; everything else imports `nhl_assets.storage.migrations`.
"""

from nhl_assets.storage.migrations import columns  # noqa: F401  (migrations 0001 and 0004)
