"""Rich-menu calls of the LINE gateway: the interface and the ``api`` backend's implementation.

Every call goes through the rate limiter first (``ratelimit.acquire``: creating and deleting
menus, the batch control and the other rich-menu endpoints each under their own name) and
raises the gateway's typed errors (429 → ``LineRateLimited``, 5xx → ``LineRetryableError``,
other 4xx → ``LineClientError``). Bodies are LINE's JSON (Messaging API reference, "Rich menu");
the contract tests check each against LINE's OpenAPI document in the fake LINE server.

LINE limits per channel: creating and deleting rich menus 100 an hour, the batch control 3 an
hour, the rest 2,000 a second. The upload goes to the data host (``api-data.line.me`` next to
``api.line.me``; a fake LINE at another address serves both).
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import quote

from django.conf import settings

from municipalities.line.errors import LineClientError

BULK_LINK_MAX = 500  # user ids per bulk link / unlink request
BATCH_OPERATIONS_MAX = 1000


class RichMenuGateway(Protocol):
    def rich_menu_validate(self, body: dict[str, Any]) -> None: ...

    def rich_menu_create(self, body: dict[str, Any]) -> str: ...

    def rich_menu_upload_image(self, rich_menu_id: str, data: bytes, content_type: str) -> None: ...

    def rich_menu_delete(self, rich_menu_id: str) -> None: ...

    def rich_menu_set_default(self, rich_menu_id: str) -> None: ...

    def rich_menu_alias_set(self, alias_id: str, rich_menu_id: str) -> None: ...

    def rich_menu_link_users(self, rich_menu_id: str, user_ids: list[str]) -> None: ...

    def rich_menu_unlink_users(self, user_ids: list[str]) -> None: ...

    def rich_menu_batch(self, operations: list[dict[str, Any]], *, resume_request_key: str) -> None: ...

    def rich_menu_batch_progress(self) -> str: ...


def data_host() -> str:
    base = settings.LINE_API_BASE_URL.rstrip("/")
    return "https://api-data.line.me" if base == "https://api.line.me" else base


def check_user_ids(user_ids: list[str]) -> None:
    if not 1 <= len(user_ids) <= BULK_LINK_MAX:
        raise LineClientError(f"bulk link takes 1 to {BULK_LINK_MAX} user ids", status=400)


class RichMenuApiMixin:
    """The ``api`` backend's rich-menu calls (mixed into ``api.ApiClient``)."""

    channel: str
    _api: Any

    def _rich_call(
        self,
        endpoint: str,
        method: str,
        path: str,
        *,
        body: Any = None,
        content_type: str = "application/json",
        host: str | None = None,
    ) -> Any:
        def call(*, _request_timeout: float) -> Any:
            return self._api.api_client.call_api(
                path,
                method,
                header_params={"Accept": "application/json", "Content-Type": content_type},
                body=body,
                response_types_map={"200": "object", "202": None},
                auth_settings=["Bearer"],
                _request_timeout=_request_timeout,
                _host=host,
            )

        return self._call(endpoint, call)  # type: ignore[attr-defined]

    def rich_menu_validate(self, body: dict[str, Any]) -> None:
        self._rich_call("richmenu", "POST", "/v2/bot/richmenu/validate", body=body)

    def rich_menu_create(self, body: dict[str, Any]) -> str:
        response = self._rich_call("richmenu_create", "POST", "/v2/bot/richmenu", body=body)
        data = response.data or {}
        rich_menu_id = data.get("richMenuId") if isinstance(data, dict) else None
        if not rich_menu_id:
            raise LineClientError("LINE answered without a richMenuId", status=response.status_code)
        return str(rich_menu_id)

    def rich_menu_upload_image(self, rich_menu_id: str, data: bytes, content_type: str) -> None:
        self._rich_call(
            "richmenu",
            "POST",
            f"/v2/bot/richmenu/{quote(rich_menu_id, safe='')}/content",
            body=data,
            content_type=content_type,
            host=data_host(),
        )

    def rich_menu_delete(self, rich_menu_id: str) -> None:
        try:
            self._rich_call("richmenu_create", "DELETE", f"/v2/bot/richmenu/{quote(rich_menu_id, safe='')}")
        except LineClientError as exc:
            if exc.status != 404:  # already gone: deleting is done
                raise

    def rich_menu_set_default(self, rich_menu_id: str) -> None:
        self._rich_call("richmenu", "POST", f"/v2/bot/user/all/richmenu/{quote(rich_menu_id, safe='')}")

    def rich_menu_alias_set(self, alias_id: str, rich_menu_id: str) -> None:
        """Point ``alias_id`` at ``rich_menu_id``: update it, or create it when LINE has none."""
        try:
            self._rich_call(
                "richmenu",
                "POST",
                f"/v2/bot/richmenu/alias/{quote(alias_id, safe='')}",
                body={"richMenuId": rich_menu_id},
            )
        except LineClientError as exc:
            if exc.status not in (400, 404):
                raise
            self._rich_call(
                "richmenu",
                "POST",
                "/v2/bot/richmenu/alias",
                body={"richMenuAliasId": alias_id, "richMenuId": rich_menu_id},
            )

    def rich_menu_link_users(self, rich_menu_id: str, user_ids: list[str]) -> None:
        check_user_ids(user_ids)
        self._rich_call(
            "richmenu_bulk",
            "POST",
            "/v2/bot/richmenu/bulk/link",
            body={"richMenuId": rich_menu_id, "userIds": list(user_ids)},
        )

    def rich_menu_unlink_users(self, user_ids: list[str]) -> None:
        check_user_ids(user_ids)
        self._rich_call(
            "richmenu_bulk", "POST", "/v2/bot/richmenu/bulk/unlink", body={"userIds": list(user_ids)}
        )

    def rich_menu_batch(self, operations: list[dict[str, Any]], *, resume_request_key: str) -> None:
        if not 1 <= len(operations) <= BATCH_OPERATIONS_MAX:
            raise LineClientError(f"a batch takes 1 to {BATCH_OPERATIONS_MAX} operations", status=400)
        self._rich_call(
            "richmenu_batch",
            "POST",
            "/v2/bot/richmenu/batch",
            body={"operations": operations, "resumeRequestKey": resume_request_key},
        )

    def rich_menu_batch_progress(self) -> str:
        """ "ongoing", "succeeded" or "failed" for the channel's latest batch control."""
        response = self._rich_call("richmenu", "GET", "/v2/bot/richmenu/progress/batch")
        data = response.data if isinstance(response.data, dict) else {}
        return str(data.get("phase") or "")
