"""The product's URLs and two more for the benchmarks' ``--floor``: the least a booking and a
stored webhook event can cost in this stack, to set the issue's goals against.

- ``/liff/floor/slot/<id>/`` (``booking.py --floor``) runs the resident middleware (the session,
  read from Redis, and the CSRF check) and then one statement in one transaction: the
  conditional UPDATE of the slot and the INSERT of the booking. It answers 302 (booked) or 409
  (full) with no page. Everything the real confirm page does besides is left out: the resident
  and the slot read, the household, the per-resident limits, the area and age rules, the audit
  entry, the confirmation push and the page shown on a refusal.
- ``/line/webhook/floor/<slug>/`` (``webhook.py --floor``) runs no middleware, as the webhook
  does: the signature check, the events' rows, their one INSERT and the drain's wake-up, each
  as the webhook does it. Left out: the body's size and nesting bounds and the bounded decoder.
"""

import json

from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from config.urls import urlpatterns as product_urlpatterns
from municipalities.line import webhook
from municipalities.line.liff import SESSION_KEY
from municipalities.models import WebhookEvent
from reservations.models import Reservation, Slot

BOOK = f"""
WITH taken AS (
    UPDATE {Slot._meta.db_table} SET reserved = reserved + 1
    WHERE id = %s AND is_open AND reserved < capacity
    RETURNING id, menu_id, (starts_at AT TIME ZONE 'Asia/Tokyo')::date AS day
)
INSERT INTO {Reservation._meta.db_table}
    (created_at, updated_at, slot_date, name, kana, phone, code, status, answers, menu_id, resident_id, slot_id)
SELECT now(), now(), day, '', '', '', upper(substr(md5(random()::text), 1, 12)), 'booked', '{{}}', menu_id, %s, id
FROM taken
RETURNING id
"""  # noqa: S608


def floor_book(request: HttpRequest, slot_id: int) -> HttpResponse:
    resident_id = request.session.get(SESSION_KEY)
    if not resident_id:
        return HttpResponse(status=403)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(BOOK, [slot_id, resident_id])
        booked = cursor.fetchone()
    if booked is None:
        return HttpResponse(status=409)
    return HttpResponseRedirect(f"/liff/reservations/done/{booked[0]}/")


@csrf_exempt
def floor_ingest(request: HttpRequest, slug: str) -> HttpResponse:
    municipality_id, channel_secret = webhook._channel(slug)
    body = request.body.decode()
    signature = request.headers.get("X-Line-Signature", "")
    if municipality_id is None or not webhook.signature_valid(
        channel_secret=channel_secret, body=body, signature=signature
    ):
        return HttpResponse(status=400)
    rows = webhook.parse_events(json.loads(body), municipality_id=municipality_id, thorough=False)
    if rows:
        webhook._store(rows)
        webhook._enqueue(
            municipality_id, [row for row in rows if row["status"] == WebhookEvent.Status.RECEIVED]
        )
    return HttpResponse(status=200)


urlpatterns = [
    path("liff/floor/slot/<int:slot_id>/", floor_book),
    path("line/webhook/floor/<slug:slug>/", floor_ingest),
    *product_urlpatterns,
]
