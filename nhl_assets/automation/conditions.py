"""Declarative Automation below bronze: when silver and gold re-run, as conditions on the assets themselves.

Dagster sees every materialization and every data version, so everything downstream of bronze is decided
by `AutomationCondition`s evaluated by the automation sensor (`nhl_automation`), not by project code. Only
what Dagster cannot see (the NHL schedule: which games became final, which dates are still incomplete, the
daily lookback) stays in the schedule sensor of `automation/sensors.py`.

The rules, per asset:

* **silver** (every table of the silver multi-asset): a partition whose bronze partition got a new *data
  version* since silver last handled it. Bronze reports a hash of its payloads as the data version, so an
  identical lookback re-fetch leaves it unchanged and silver does not re-run for it.
  `data_version_changed()` compares a partition's latest data version with the one it had at the previous
  evaluation; `any_deps_match` carries that to silver's partitions through the (identity) date mapping.
* **gold/skater_season_stats**: silver's data changed (same test, on silver's data versions).
* **gold/upcoming_schedule** (from the API, no upstream asset): once a day (`cron_tick_passed`), and when a
  game became final, i.e. `silver/schedule` (played games) got a new data version — the games it lists are
  the ones not final yet. `asset_matches` observes that key without declaring a false lineage edge.
* **gold features**: a silver date D with a new data version makes every features date from D on due,
  because features of later dates read every earlier game. That is not a condition but the lineage: the
  features depend on silver through a `TimeWindowPartitionMapping` spanning their history
  (`FEATURE_HISTORY_DAYS`), so Dagster maps silver date D to features D..(last gold date), which is "the
  earliest changed date through the upcoming week". A refreshed upcoming schedule makes the latest dates due
  (`in_latest_time_window`: today and the upcoming week).
* **gold/sog_model**: any features partition updated. The asset itself retrains only when
  `transform.retrain` says so (no model, other features or parameters, played games of a week of game dates
  past the model's last training, or `retrain: true` in the run config), else it keeps the model in use.
* **gold/xg_model**: `silver/shots` updated; the same retrain rule on shots. Its data version is the
  version of the model in use.
* **gold/shot_xg** and the xGoals tables: the dates whose shots or silver stats got a new data version, and
  every date when the xG model's data version changed, i.e. a new model (each row carries the version
  that scored it). Retraining on game dates rather than a cron keeps a replayed week equal to a backfill.
* **gold/sog_predictions**: after a model update, the dates whose features changed plus today and the
  upcoming week (a retrained model does not rewrite the past: kept pre-game predictions are the record).

Every condition waits until no parent is in progress, so a step reads its parents' finished writes. A
parent and a child requested on the same tick are ordered by Dagster, not by a condition: the automation
sensor puts an asset requested for more than one partition, with its requested parents and children, into
one asset backfill (`emit_backfills`, its default), which materializes parents before children (features
and predictions requests are always several partitions). The one pair that can still meet as separate runs,
a single-date silver run and the season stats, is harmless: the season stats read silver before or after
that run's single Delta commit, and the new silver data version makes them run again. (`will_be_requested()` cannot
say "a parent runs this tick" here: it only sees parents that can share the child's run, i.e. the same
partitioning, and no parent below bronze has its child's.) `runs.py`'s in-process driver runs a tick's
steps in the pipeline's order for the same reason.

Rules that no condition expresses, and what stands in for them:

* "features from the earliest changed date through the upcoming week" — Dagster's public
  `PartitionMapping` may not be subclassed ("overriding PartitionMapping outside of Dagster is not
  supported"), so there is no "every later date" mapping; the time-window mapping above with a long
  `start_offset` is the public equivalent for any history shorter than `FEATURE_HISTORY_DAYS`.
* a parser change (silver's code version bumped) is not replayed automatically: it means re-parsing the whole
  history, which stays a deliberate `nhl_silver_replay` backfill (README, "Replaying silver").
"""

from __future__ import annotations

from datetime import timedelta

from dagster import AssetKey, AssetSelection, AutomationCondition

from nhl_assets import settings
from nhl_assets.partitions import UPCOMING_DAYS

#: When the upcoming schedule is refreshed even if no game became final (New York time: after the night's
#: games, before the morning's predictions are read).
DAILY_REFRESH_CRON = "0 5 * * *"
#: How far back a features date reads silver: the lineage window of `gold/*_game_features` (ten seasons;
#: the features read every earlier game, head-to-head included).
FEATURE_HISTORY_DAYS = 3660
#: The gold dates a new upcoming schedule or model makes due: today and the upcoming week (the latest
#: partitions of the gold dates, which end `UPCOMING_DAYS` after Dagster's today).
LATEST_GOLD_DAYS = timedelta(days=UPCOMING_DAYS + 1)


def _after_parents(trigger: AutomationCondition) -> AutomationCondition:
    """`trigger` since this asset was last requested or updated, once no parent and not the asset itself
    is running (a step reads its parents' finished writes)."""
    return (
        trigger.since_last_handled()
        & ~AutomationCondition.any_deps_in_progress()
        & ~AutomationCondition.in_progress()
    )


def deps_data_changed() -> AutomationCondition:
    """A parent partition got a new data version since the previous evaluation (an identical re-run is not
    a change)."""
    return AutomationCondition.any_deps_match(AutomationCondition.data_version_changed()).with_label(
        "a parent's data version changed")


def silver_condition() -> AutomationCondition:
    """Silver re-parses a date whose bronze data changed; an identical lookback re-fetch stops at bronze."""
    return _after_parents(deps_data_changed()).with_label("bronze data changed")


def season_stats_condition() -> AutomationCondition:
    """Season aggregates are a pure function of silver: recomputed when silver's data changed."""
    return _after_parents(deps_data_changed()).with_label("silver data changed")


def upcoming_schedule_condition(played_games: AssetKey) -> AutomationCondition:
    """The upcoming games come from the API: refreshed once a day and whenever a game became final (the
    played-games table `played_games` got a new data version)."""
    daily = AutomationCondition.cron_tick_passed(DAILY_REFRESH_CRON, settings.NHL_TIMEZONE)
    became_final = AutomationCondition.asset_matches(played_games, AutomationCondition.data_version_changed())
    return _after_parents((daily | became_final).with_label("a new day or a game became final")).with_label(
        "daily or when games become final")


def features_condition(silver: AssetSelection, upcoming: AssetSelection) -> AutomationCondition:
    """Features of every date from a changed silver date on (through the history mapping), and today plus
    the upcoming week when the upcoming schedule was refreshed."""
    silver_changed = deps_data_changed().allow(silver)
    schedule_refreshed = (
        AutomationCondition.any_deps_match(AutomationCondition.newly_updated()).allow(upcoming)
        & AutomationCondition.in_latest_time_window(LATEST_GOLD_DAYS)
    ).with_label("upcoming schedule refreshed: today and the upcoming week")
    return _after_parents(silver_changed | schedule_refreshed).with_label(
        "silver changed from a date on, or a new upcoming schedule")


def model_condition() -> AutomationCondition:
    """After any features partition was written (the asset decides whether that is enough to retrain)."""
    return _after_parents(AutomationCondition.any_deps_match(AutomationCondition.newly_updated())).with_label(
        "features updated")


def xg_model_condition() -> AutomationCondition:
    """Shots updated (the asset decides whether that is enough to retrain; see the module doc)."""
    return _after_parents(AutomationCondition.any_deps_match(AutomationCondition.newly_updated())).with_label(
        "shots updated")


def shot_xg_condition(silver: AssetSelection, model: AssetSelection) -> AutomationCondition:
    """Dates whose silver shots or stats changed; every date once a new xG model was written."""
    silver_changed = deps_data_changed().allow(silver)
    model_updated = AutomationCondition.any_deps_match(AutomationCondition.data_version_changed()).allow(
        model).with_label("a new xG model: re-score every date")
    return _after_parents(silver_changed | model_updated).with_label("silver changed, or a new xG model")


def predictions_condition(features: AssetSelection, model: AssetSelection) -> AutomationCondition:
    """On the tick after the model was written: the dates whose features were rewritten since the
    predictions last ran, and today plus the upcoming week.

    The model's update is deliberately not remembered (`since_last_handled`) as the features' are: it
    concerns every date, and remembered for the dates it does not re-run it would make the next features
    change alone re-run predictions with the model about to be retrained. A tick that misses it (a parent
    in progress) is caught up by the next features → model round."""
    features_changed = AutomationCondition.any_deps_match(AutomationCondition.newly_updated()).allow(features)
    model_updated = AutomationCondition.any_deps_match(AutomationCondition.newly_updated()).allow(model)
    dates = (features_changed.since_last_handled()
             | AutomationCondition.in_latest_time_window(LATEST_GOLD_DAYS)).with_label(
        "features changed, or today and the upcoming week")
    return (dates & model_updated.with_label("model updated since the previous tick")
            & ~AutomationCondition.any_deps_in_progress() & ~AutomationCondition.in_progress()).with_label(
        "model updated")
