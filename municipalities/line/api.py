"""The ``api`` backend: line-bot-sdk v3 against ``settings.LINE_API_BASE_URL``.

Every call goes through the rate limiter (per channel and endpoint) first, carries the
channel access token of the municipality and, for push/multicast/broadcast, the caller's
``X-Line-Retry-Key``. LINE's answers become typed errors (errors.py):

- 2xx → ``SendResult(request_id)``; 409 on a retry key → ``SendResult(already_accepted=True)``
  (LINE accepted that key before: the messages went out);
- 429 → ``LineRateLimited`` (and reported to the rate limiter: a burst of them pauses every
  caller, see ratelimit.throttled); 5xx, timeouts and connection failures → ``LineRetryableError``;
  a reply with a used or expired token → ``LineReplyTokenExpired``; other 4xx →
  ``LineClientError`` carrying LINE's message and details.

Messages are validated locally first (messages.validate_messages), so a message LINE would
refuse is never sent. Single-recipient sends are written to the talk log, as the simulator does
(with sign-in links redacted there; LINE gets the real ones).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from typing import Any

import urllib3
from django.conf import settings
from linebot.v3.messaging import (
    ApiClient as SdkApiClient,
)
from linebot.v3.messaging import (
    BroadcastRequest,
    Configuration,
    MessagingApi,
    PushMessageRequest,
    ReplyMessageRequest,
)
from linebot.v3.messaging.exceptions import ApiException

from municipalities.line import ratelimit
from municipalities.line.client import MULTICAST_MAX_RECIPIENTS, Profile, SendResult
from municipalities.line.errors import (
    LineClientError,
    LineError,
    LineRateLimited,
    LineReplyTokenExpired,
    LineRetryableError,
)
from municipalities.line.insight import InsightApiMixin
from municipalities.line.messages import validate_messages
from municipalities.line.richmenus_gateway import RichMenuApiMixin
from municipalities.line.talklog import talk_log_outbound
from municipalities.models import Department, Municipality, Resident, TalkMessage, WebhookEvent

logger = logging.getLogger(__name__)

_apis: dict[tuple[str, str, float], MessagingApi] = {}
_apis_lock = threading.Lock()


def _messaging_api(token: str) -> MessagingApi:
    """One SDK client (and so one urllib3 connection pool) per host, token and timeout."""
    key = (settings.LINE_API_BASE_URL, token, settings.LINE_API_TIMEOUT_SECONDS)
    api = _apis.get(key)
    if api is None:
        with _apis_lock:
            api = _apis.get(key)
            if api is None:
                configuration = Configuration(host=settings.LINE_API_BASE_URL, access_token=token)
                # Never let urllib3 resend a POST on its own: a retry is the caller's decision,
                # made with the same retry key.
                configuration.retries = urllib3.Retry(total=0, connect=0, read=0, redirect=0, status=0)
                api = MessagingApi(SdkApiClient(configuration))
                _apis[key] = api
    return api


def _header(headers: Any, name: str) -> str:
    if not headers:
        return ""
    items = headers.items() if hasattr(headers, "items") else headers
    for key, value in items:
        if key.lower() == name.lower():
            return value
    return ""


def _error_from(exc: ApiException, endpoint: str) -> LineError:
    status = exc.status or 0
    body: dict[str, Any] = {}
    if exc.body:
        try:
            body = json.loads(exc.body)
        except (TypeError, ValueError):
            body = {"message": str(exc.body)[:500]}
    message = str(body.get("message") or exc.reason or "")
    details = body.get("details")
    if status == 0:
        return LineRetryableError(message or "connection failed", status=None, details=details)
    if status == 429:
        return LineRateLimited(message, status=status, details=details)
    if status >= 500:
        return LineRetryableError(message, status=status, details=details)
    if endpoint == "reply" and status == 400 and "reply token" in message.lower():
        return LineReplyTokenExpired(message, status=status, details=details)
    return LineClientError(message, status=status, details=details)


class ApiClient(RichMenuApiMixin, InsightApiMixin):
    """The real thing (or any server that speaks LINE's API at ``LINE_API_BASE_URL``)."""

    def __init__(self, municipality: Municipality) -> None:
        self.municipality = municipality
        self.channel = municipality.line_channel_id or f"m{municipality.pk}"
        self._api = _messaging_api(municipality.channel_access_token or "")

    @property
    def _timeout(self) -> float:
        return float(settings.LINE_API_TIMEOUT_SECONDS)

    def _call(self, endpoint: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        ratelimit.acquire(self.channel, endpoint)
        try:
            return fn(*args, _request_timeout=self._timeout, **kwargs)
        except ApiException as exc:
            if exc.status == 409 and kwargs.get("x_line_retry_key"):
                accepted = _header(exc.headers, "x-line-accepted-request-id")
                return SendResult(request_id=accepted, already_accepted=True)
            if exc.status == 429:  # LINE counted more than our window: a burst pauses every caller
                ratelimit.throttled(self.channel, endpoint)
            raise _error_from(exc, endpoint) from exc
        except urllib3.exceptions.HTTPError as exc:  # timeouts, refused connections, resets
            raise LineRetryableError(f"{type(exc).__name__}: {exc}") from exc

    def _post_json(
        self, path: str, body: dict[str, Any], *, x_line_retry_key: str, _request_timeout: float
    ) -> Any:
        """POST a body that is already plain JSON through the SDK's HTTP client (its auth,
        connection pool and ApiException), without building its pydantic request model: for
        a multicast of 500 user ids that model costs more than the HTTP request itself (about a
        quarter of a broadcast worker's time per batch). The body has been validated by
        ``validate_messages`` and the caller; the contract tests check it against LINE's spec."""
        return self._api.api_client.call_api(
            path,
            "POST",
            header_params={
                "X-Line-Retry-Key": x_line_retry_key,
                "Accept": "application/json",
                "Content-Type": "application/json",
            },
            body=body,
            response_types_map={"200": "object"},
            auth_settings=["Bearer"],
            _request_timeout=_request_timeout,
        )

    @staticmethod
    def _result(response: Any) -> SendResult:
        if isinstance(response, SendResult):
            return response
        return SendResult(request_id=_header(response.headers, "x-line-request-id"))

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
        """``resident``: whom the token answers, when the caller has them (the webhook's
        processing): the talk log is written without reading the event and the resident.
        ``talk_log_into``: the reply's talk-log rows go there, for the caller to write."""
        validate_messages(messages)
        request = ReplyMessageRequest.from_dict({"replyToken": reply_token, "messages": messages})
        result = self._result(self._call("reply", self._api.reply_message_with_http_info, request))
        line_user_id = (
            resident.line_user_id
            if resident is not None
            else WebhookEvent.objects.filter(municipality=self.municipality, reply_token=reply_token)
            .values_list("line_user_id", flat=True)
            .first()
        )
        if line_user_id:
            talk_log_outbound(
                municipality=self.municipality,
                line_user_ids=[line_user_id],
                messages=messages,
                department=department,
                log_text=talk_log_text,
                resident=resident,
                into=talk_log_into,
            )
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
        validate_messages(messages)
        request = PushMessageRequest.from_dict({"to": user_id, "messages": messages})
        result = self._result(
            self._call(
                "push", self._api.push_message_with_http_info, request, x_line_retry_key=str(retry_key)
            )
        )
        if not result.already_accepted:
            talk_log_outbound(
                municipality=self.municipality,
                line_user_ids=[user_id],
                messages=messages,
                department=department,
                log_text=talk_log_text,
            )
        return result

    def multicast(
        self, user_ids: list[str], messages: list[dict[str, Any]], *, retry_key: uuid.UUID
    ) -> SendResult:
        if not 1 <= len(user_ids) <= MULTICAST_MAX_RECIPIENTS:
            raise LineClientError(f"multicast takes 1 to {MULTICAST_MAX_RECIPIENTS} user ids", status=400)
        validate_messages(messages)
        result = self._result(
            self._call(
                "multicast",
                self._post_json,
                "/v2/bot/message/multicast",
                {"to": list(user_ids), "messages": messages},
                x_line_retry_key=str(retry_key),
            )
        )
        if not result.already_accepted:
            talk_log_outbound(municipality=self.municipality, line_user_ids=list(user_ids), messages=messages)
        return result

    def broadcast(self, messages: list[dict[str, Any]], *, retry_key: uuid.UUID) -> SendResult:
        validate_messages(messages)
        request = BroadcastRequest.from_dict({"messages": messages})
        return self._result(
            self._call(
                "broadcast", self._api.broadcast_with_http_info, request, x_line_retry_key=str(retry_key)
            )
        )

    def get_profile(self, user_id: str) -> Profile | None:
        """The user's profile, or None when LINE does not give it (not a friend, blocked)."""
        try:
            profile = self._call("profile", self._api.get_profile, user_id)
        except LineClientError as exc:
            if exc.status == 404:
                return None
            raise
        return Profile(
            user_id=profile.user_id,
            display_name=profile.display_name or "",
            picture_url=profile.picture_url or "",
            status_message=profile.status_message or "",
        )
