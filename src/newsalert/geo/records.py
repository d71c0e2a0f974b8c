"""Item locations in the store: written with the scores, read back for alerts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, update

from newsalert.geo.model import GeoResult, Location
from newsalert.store import items


def location_values(result: GeoResult) -> dict[str, Any]:
    where = result.where
    return {
        "b_place": where.place if where else None,
        "b_country": where.country if where else None,
        "b_admin1": where.admin1 if where else None,
        "b_lat": where.lat if where else None,
        "b_lon": where.lon if where else None,
        "b_precision": where.precision if where else None,
        "b_across": where.across if where else None,
        "b_places": json.dumps([p.as_dict() for p in result.places], ensure_ascii=False),
        "b_why": result.why,
    }


def write_locations(
    conn: Connection, located: Mapping[int, GeoResult], item_ids: Iterable[int]
) -> None:
    """Store the locations of ``item_ids`` (those just scored) in one statement."""
    rows = [
        {"b_id": item_id, **location_values(located[item_id])}
        for item_id in item_ids
        if item_id in located
    ]
    if not rows:
        return
    statement = (
        update(items)
        .where(items.c.id == bindparam("b_id"))
        .values(
            geo_place=bindparam("b_place"),
            geo_country=bindparam("b_country"),
            geo_admin1=bindparam("b_admin1"),
            geo_lat=bindparam("b_lat"),
            geo_lon=bindparam("b_lon"),
            geo_precision=bindparam("b_precision"),
            geo_across=bindparam("b_across"),
            geo_places=bindparam("b_places"),
            geo_why=bindparam("b_why"),
        )
    )
    conn.execute(statement, rows)


def _location(row: Any) -> Location | None:
    if row.geo_country is None or row.geo_lat is None:
        return None
    return Location(
        place=row.geo_place or row.geo_country,
        country=row.geo_country,
        admin1=row.geo_admin1,
        lat=row.geo_lat,
        lon=row.geo_lon,
        precision=row.geo_precision or "country",
        across=row.geo_across,
    )


def locations_of(engine: Engine, item_ids: Iterable[int]) -> dict[int, tuple[Location | None, str]]:
    """``{item_id: (where, why)}`` for stored items (items never located are left out)."""
    ids = list(item_ids)
    if not ids:
        return {}
    query = select(
        items.c.id,
        items.c.geo_place,
        items.c.geo_country,
        items.c.geo_admin1,
        items.c.geo_lat,
        items.c.geo_lon,
        items.c.geo_precision,
        items.c.geo_across,
        items.c.geo_why,
    ).where(items.c.id.in_(ids))
    with engine.connect() as conn:
        return {
            row.id: (_location(row), row.geo_why or "")
            for row in conn.execute(query)
            if row.geo_why is not None
        }
