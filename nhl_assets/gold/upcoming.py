"""gold/upcoming_schedule: the next days' games, recomputed whole on every materialization (refresh)."""


from datetime import date

import orjson
from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from nhl_assets import specs
from nhl_assets.automation.conditions import upcoming_schedule_condition
from nhl_assets.catalog import gold as cg, silver as cs
from nhl_assets.parse.schedule import upcoming_games
from nhl_assets.resources import NHLApiResource, WarehouseResource

TABLE = cg.UPCOMING_SCHEDULE.name
UPCOMING_CODE_VERSION = "1"


@asset(
    key=specs.asset_key(TABLE),
    group_name="gold",
    kinds={"delta", "polars"},
    owners=specs.OWNERS,
    code_version=UPCOMING_CODE_VERSION,
    automation_condition=upcoming_schedule_condition(specs.asset_key(cs.SCHEDULE)),
    tags=specs.tags(TABLE),
    description=specs.description(TABLE),
    metadata=specs.metadata(TABLE),
)
def upcoming_schedule(context: AssetExecutionContext, nhl_api: NHLApiResource,
                      warehouse: WarehouseResource) -> MaterializeResult:
    with nhl_api.open() as source:
        fetched = source.schedule_now()
        calls = source.stats.snapshot()["calls"]
    # /v1/schedule/now redirects to /v1/schedule/{today}: the API's notion of today is the week's first day.
    payload = orjson.loads(fetched.raw.body)
    week = payload.get("gameWeek") or []
    today = date.fromisoformat(week[0]["date"]) if week else fetched.raw.fetched_at.date()
    frame = upcoming_games(payload, today, fetched.raw.fetched_at, fetched.raw.sha256)
    write = warehouse.get().replace_all(TABLE, frame.to_arrow(), run_id=context.run.run_id,
                                        description=cg.UPCOMING_SCHEDULE.description)
    dates = frame.get_column("gameDate").unique().sort().to_list()
    return MaterializeResult(metadata={
        **write.metadata(),
        "today": today.isoformat(),
        "games": frame.height,
        "dates": MetadataValue.json([d.isoformat() for d in dates]),
        "api_calls": calls,
        "dagster/uri": MetadataValue.path(write.uri),
        "dagster/row_count": frame.height,
    })
