"""The ``simulator`` backend: LINE as a table. No network."""

from __future__ import annotations

import uuid
from contextlib import nullcontext
from typing import Any

from django.db import IntegrityError, connection, transaction

from municipalities.line.client import MULTICAST_MAX_RECIPIENTS, Profile, SendResult
from municipalities.line.errors import LineClientError, LineReplyTokenExpired
from municipalities.line.insight import InsightSimulatorMixin
from municipalities.line.liff import redact_resident_links
from municipalities.line.messages import validate_messages
from municipalities.line.richmenus_simulator import RichMenuSimulatorMixin
from municipalities.line.talklog import talk_log_outbound
from municipalities.models import (
    Department,
    Municipality,
    Resident,
    SimulatedDelivery,
    TalkMessage,
    WebhookEvent,
)


class SimulatorClient(RichMenuSimulatorMixin, InsightSimulatorMixin):
    """Records what would be sent; answers as LINE would (409 on a reused retry key)."""

    def __init__(self, municipality: Municipality) -> None:
        self.municipality = municipality

    def _record(
        self,
        endpoint: str,
        user_ids: list[str],
        messages: list[dict[str, Any]],
        retry_key: uuid.UUID | None,
        department: Department | None = None,
        talk_log_text: str = "",
        resident: Resident | None = None,
        talk_log_into: list[TalkMessage] | None = None,
    ) -> SendResult:
        validate_messages(messages)
        request_id = uuid.uuid4().hex
        # Staff read this record (the simulator page): it holds plain page URLs, never a usable
        # sign-in link; simulated residents sign in the way LIFF would.
        stored = redact_resident_links(messages)
        rows = [
            SimulatedDelivery(
                municipality=self.municipality,
                endpoint=endpoint,
                line_user_id=user_id,
                retry_key=retry_key,
                messages=stored,
            )
            for user_id in user_ids
        ]
        # A reply's key is its token's, for one recipient: the unique constraint (retry key and
        # recipient) alone refuses it a second time, without a read first.
        if (
            retry_key is not None
            and endpoint != "reply"
            and SimulatedDelivery.objects.filter(municipality=self.municipality, retry_key=retry_key).exists()
        ):
            return SendResult(request_id=request_id, already_accepted=True)
        logged: list[TalkMessage] = []
        # The delivery and its talk-log rows, or neither. When the caller takes the rows, the
        # delivery alone is one statement: no transaction of its own (on SQLite, no BEGIN),
        # unless the caller is in one, which the IntegrityError below must not break.
        together = talk_log_into is None or connection.in_atomic_block
        try:
            with transaction.atomic() if together else nullcontext():
                if len(rows) == 1:  # a reply or a push: save() costs less CPU than bulk_create
                    rows[0].save(force_insert=True)
                else:
                    SimulatedDelivery.objects.bulk_create(rows)
                talk_log_outbound(
                    municipality=self.municipality,
                    line_user_ids=user_ids,
                    messages=stored,
                    department=department,
                    log_text=talk_log_text,
                    resident=resident,
                    into=logged if talk_log_into is not None else None,
                )
        except IntegrityError:  # the same key raced in: LINE answers 409
            return SendResult(request_id=request_id, already_accepted=True)
        if talk_log_into is not None:
            talk_log_into.extend(logged)
        return SendResult(request_id=request_id)

    def reply(
        self,
        reply_token: str,
        messages: list[dict[str, Any]],
        *,
        department: Department | None = None,
        talk_log_text: str = "",
        resident: Resident | None = None,
        talk_log_into: list[TalkMessage] | None = None,
    ) -> SendResult:
        # ``resident``: whom the token answers, when the caller has them (the webhook's processing
        # of the stored event the token came with): no read of the event. A token is still good
        # for one reply (its retry key).
        if resident is not None:
            line_user_id = resident.line_user_id
        else:
            event = (
                WebhookEvent.objects.filter(municipality=self.municipality, reply_token=reply_token)
                .only("line_user_id")
                .first()
            )
            if event is None or not event.line_user_id:
                raise LineReplyTokenExpired("Invalid reply token", status=400)
            line_user_id = event.line_user_id
        result = self._record(
            "reply",
            [line_user_id],
            messages,
            _reply_key(reply_token),
            department,
            talk_log_text,
            resident,
            talk_log_into,
        )
        if result.already_accepted:  # a reply token is good for one reply
            raise LineReplyTokenExpired("Invalid reply token", status=400)
        return result

    def push(
        self,
        user_id: str,
        messages: list[dict[str, Any]],
        *,
        retry_key: uuid.UUID,
        department: Department | None = None,
        talk_log_text: str = "",
    ) -> SendResult:
        return self._record("push", [user_id], messages, retry_key, department, talk_log_text)

    def multicast(
        self, user_ids: list[str], messages: list[dict[str, Any]], *, retry_key: uuid.UUID
    ) -> SendResult:
        if not 1 <= len(user_ids) <= MULTICAST_MAX_RECIPIENTS:
            raise LineClientError(f"multicast takes 1 to {MULTICAST_MAX_RECIPIENTS} user ids", status=400)
        return self._record("multicast", list(user_ids), messages, retry_key)

    def broadcast(self, messages: list[dict[str, Any]], *, retry_key: uuid.UUID) -> SendResult:
        user_ids = list(
            Resident.objects.filter(municipality=self.municipality, is_following=True).values_list(
                "line_user_id", flat=True
            )
        )
        return self._record("broadcast", user_ids, messages, retry_key)

    def get_profile(self, user_id: str) -> Profile | None:
        resident = Resident.objects.filter(municipality=self.municipality, line_user_id=user_id).first()
        name = resident.display_name if resident and resident.display_name else f"住民{user_id[-4:]}"
        return Profile(user_id=user_id, display_name=name)


def _reply_key(reply_token: str) -> uuid.UUID:
    # A reply token can be used once; the simulator keeps that rule with a key per token.
    return uuid.uuid5(uuid.NAMESPACE_URL, f"reply:{reply_token}")
