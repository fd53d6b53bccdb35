"""A resident's own booking as one PostgreSQL statement: the person's limits, the menu's area
rule, the place, the booking row and its audit entry.

``reservation_book`` takes this way on PostgreSQL for a resident booking in LINE (for themselves
or a household member), once the resident row is locked: a separate statement, so that this
one's snapshot sees every booking committed before the lock was granted. The ORM way in
``booking.py`` stays the reference and the fallback beside it: whatever this statement does not
book (a refusal, or a code already taken) goes that way in the same transaction, which books or
says why not in the resident's words. ``tests/reservations/test_booking_pg.py`` checks that both
ways leave the same rows.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from typing import Any

from django.db import connection, models

from municipalities.insert_sql import insert_columns, insert_fields, insert_params
from municipalities.models import AuditEntry

from ..models import Menu, Reservation, ReservationStatus, Slot
from .places import release_place


def is_available() -> bool:
    return connection.vendor == "postgresql"


def _insert_values(obj: models.Model, prefix: str) -> dict[str, Any]:
    """The values the ORM would INSERT for ``obj`` (``insert_sql.insert_params``), as named
    parameters ``<prefix><n>``."""
    return {f"{prefix}{n}": value for n, value in enumerate(insert_params(obj))}


def _columns_and_values(model: type[models.Model], prefix: str, **replace: str) -> tuple[str, str]:
    """``"col", …`` and ``%(<prefix>n)s, …`` for an INSERT … SELECT; ``replace`` puts an SQL
    expression in place of a column's parameter."""
    fields = insert_fields(model)
    values = ", ".join(replace.get(f.column, f"%({prefix}{n})s") for n, f in enumerate(fields))
    return insert_columns(model), values


@cache
def _statement() -> str:
    reservation_columns, reservation_values = _columns_and_values(Reservation, "r")
    audit_columns, audit_values = _columns_and_values(AuditEntry, "a", object_id="booked.id::text")
    areas = Menu.eligible_areas.through._meta.db_table
    # Names come from the models; every value is a parameter.
    return f"""
WITH counts AS (
    SELECT count(*) FILTER (WHERE r.slot_id = %(slot)s) AS same_slot,
           count(*) FILTER (WHERE r.menu_id = %(menu)s AND s.starts_at > %(now)s) AS menu_future,
           count(*) FILTER (WHERE r.menu_id = %(menu)s AND r.slot_date = %(day)s) AS same_day
    FROM {Reservation._meta.db_table} r JOIN {Slot._meta.db_table} s ON s.id = r.slot_id
    WHERE r.status = %(booked)s
      AND (r.member_id = %(member)s
           OR (%(member)s IS NULL AND r.resident_id = %(resident)s AND r.member_id IS NULL))
), allowed AS (
    SELECT same_slot = 0
       AND (%(max_menu)s = 0 OR menu_future < %(max_menu)s)
       AND (%(max_day)s = 0 OR same_day < %(max_day)s)
       AND (NOT EXISTS (SELECT 1 FROM {areas} WHERE menu_id = %(menu)s)
            OR EXISTS (SELECT 1 FROM {areas} e JOIN municipalities_resident p ON p.area_id = e.area_id
                       WHERE e.menu_id = %(menu)s AND p.id = %(resident)s)) AS ok
    FROM counts
), taken AS (
    UPDATE {Slot._meta.db_table} SET reserved = reserved + 1
    WHERE id = %(slot)s AND is_open AND reserved < capacity AND (SELECT ok FROM allowed)
    RETURNING id
), booked AS (
    INSERT INTO {Reservation._meta.db_table} ({reservation_columns})
    SELECT {reservation_values} FROM taken
    ON CONFLICT DO NOTHING
    RETURNING id
), audited AS (
    INSERT INTO {AuditEntry._meta.db_table} ({audit_columns})
    SELECT {audit_values} FROM booked
)
SELECT (SELECT id FROM taken), (SELECT id FROM booked)
"""  # noqa: S608


def resident_book(*, reservation: Reservation, audit: AuditEntry, menu: Menu, now: dt.datetime) -> bool:
    """Write ``reservation`` (unsaved: a resident's, its slot and code set) and ``audit`` (its
    entry; ``object_id`` becomes the booking's id) if the person is within the menu's limits, lives
    in one of its areas (if it has any) and the slot has a place. Returns whether it was written;
    when not, nothing was. Call inside the transaction, holding the resident's lock."""
    params = {
        "slot": reservation.slot_id,
        "menu": menu.pk,
        "resident": reservation.resident_id,
        "member": reservation.member_id,
        "day": reservation.slot_date,
        "now": now,
        "booked": ReservationStatus.BOOKED,
        "max_menu": menu.max_active_per_resident or 0,
        "max_day": menu.max_per_resident_per_day or 0,
        **_insert_values(reservation, "r"),
        **_insert_values(audit, "a"),
    }
    with connection.cursor() as cursor:
        cursor.execute(_statement(), params)
        taken, booked = cursor.fetchone()
    if booked is None:
        if taken is not None:
            # The code was taken (or the row met a unique rule): our own place back, and the
            # ORM way draws another code or says why.
            release_place(reservation.slot_id)
        return False
    reservation.pk = booked
    reservation._state.adding = False
    reservation._state.db = connection.alias
    audit.object_id = str(booked)
    return True
