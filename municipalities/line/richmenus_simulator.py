"""The ``simulator`` backend's rich-menu calls: LINE's rich-menu state as tables, no network.

Answers as LINE would where it matters to callers: an unknown menu is a 404, a menu without its
image cannot be the default or linked (400), an image is uploaded once. The batch control is
carried out at once (its progress is ``succeeded``). The simulator page shows a simulated
resident's menu (``menu_for_user``) and performs a tapped tile's action.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db import transaction

from municipalities.line.errors import LineClientError
from municipalities.line.richmenus_gateway import BATCH_OPERATIONS_MAX, check_user_ids
from municipalities.models import Municipality, SimulatedRichMenu, SimulatedRichMenuLink


def _usable(municipality: Municipality, rich_menu_id: str) -> SimulatedRichMenu:
    menu = SimulatedRichMenu.objects.filter(municipality=municipality, rich_menu_id=rich_menu_id).first()
    if menu is None:
        raise LineClientError("Not found", status=404)
    if not menu.image:
        raise LineClientError("must upload richmenu image before applying it to user", status=400)
    return menu


def menu_for_user(municipality: Municipality, line_user_id: str) -> SimulatedRichMenu | None:
    """The menu LINE would show this user: the one linked to them, else the default."""
    link = SimulatedRichMenuLink.objects.filter(municipality=municipality, line_user_id=line_user_id).first()
    if link is not None:
        linked = SimulatedRichMenu.objects.filter(
            municipality=municipality, rich_menu_id=link.rich_menu_id
        ).first()
        if linked is not None:
            return linked
    return SimulatedRichMenu.objects.filter(municipality=municipality, is_default=True).first()


def menu_for_alias(municipality: Municipality, alias_id: str) -> SimulatedRichMenu | None:
    for menu in SimulatedRichMenu.objects.filter(municipality=municipality).exclude(aliases=[]):
        if alias_id in (menu.aliases or []):
            return menu
    return None


class RichMenuSimulatorMixin:
    """Mixed into ``simulator.SimulatorClient``."""

    municipality: Municipality

    def rich_menu_validate(self, body: dict[str, Any]) -> None:
        width, height = body["size"]["width"], body["size"]["height"]
        for area in body.get("areas") or []:
            b = area["bounds"]
            if b["x"] + b["width"] > width or b["y"] + b["height"] > height:
                raise LineClientError("An area is outside the rich menu", status=400)

    def rich_menu_create(self, body: dict[str, Any]) -> str:
        self.rich_menu_validate(body)
        rich_menu_id = "richmenu-" + uuid.uuid4().hex
        SimulatedRichMenu.objects.create(municipality=self.municipality, rich_menu_id=rich_menu_id, body=body)
        return rich_menu_id

    def rich_menu_upload_image(self, rich_menu_id: str, data: bytes, content_type: str) -> None:
        updated = SimulatedRichMenu.objects.filter(
            municipality=self.municipality, rich_menu_id=rich_menu_id, image__isnull=True
        ).update(image=data, content_type=content_type)
        if not updated:
            if not SimulatedRichMenu.objects.filter(
                municipality=self.municipality, rich_menu_id=rich_menu_id
            ).exists():
                raise LineClientError("Not found", status=404)
            raise LineClientError("An image has already been uploaded to the richmenu", status=400)

    def rich_menu_delete(self, rich_menu_id: str) -> None:
        with transaction.atomic():
            SimulatedRichMenuLink.objects.filter(
                municipality=self.municipality, rich_menu_id=rich_menu_id
            ).delete()
            SimulatedRichMenu.objects.filter(
                municipality=self.municipality, rich_menu_id=rich_menu_id
            ).delete()

    def rich_menu_set_default(self, rich_menu_id: str) -> None:
        menu = _usable(self.municipality, rich_menu_id)
        with transaction.atomic():
            SimulatedRichMenu.objects.filter(municipality=self.municipality, is_default=True).exclude(
                pk=menu.pk
            ).update(is_default=False)
            SimulatedRichMenu.objects.filter(pk=menu.pk).update(is_default=True)

    def rich_menu_alias_set(self, alias_id: str, rich_menu_id: str) -> None:
        menu = _usable(self.municipality, rich_menu_id)
        with transaction.atomic():
            for other in SimulatedRichMenu.objects.filter(municipality=self.municipality).exclude(pk=menu.pk):
                if alias_id in (other.aliases or []):
                    other.aliases = [a for a in other.aliases if a != alias_id]
                    other.save(update_fields=["aliases", "updated_at"])
            if alias_id not in (menu.aliases or []):
                menu.aliases = [*(menu.aliases or []), alias_id]
                menu.save(update_fields=["aliases", "updated_at"])

    def rich_menu_link_users(self, rich_menu_id: str, user_ids: list[str]) -> None:
        check_user_ids(user_ids)
        _usable(self.municipality, rich_menu_id)
        with transaction.atomic():
            for user_id in user_ids:
                SimulatedRichMenuLink.objects.update_or_create(
                    municipality=self.municipality,
                    line_user_id=user_id,
                    defaults={"rich_menu_id": rich_menu_id},
                )

    def rich_menu_unlink_users(self, user_ids: list[str]) -> None:
        check_user_ids(user_ids)
        SimulatedRichMenuLink.objects.filter(
            municipality=self.municipality, line_user_id__in=user_ids
        ).delete()

    def rich_menu_batch(self, operations: list[dict[str, Any]], *, resume_request_key: str) -> None:
        if not 1 <= len(operations) <= BATCH_OPERATIONS_MAX:
            raise LineClientError(f"a batch takes 1 to {BATCH_OPERATIONS_MAX} operations", status=400)
        links = SimulatedRichMenuLink.objects.filter(municipality=self.municipality)
        with transaction.atomic():
            # All "from"s are read before any is moved, as LINE applies a batch as one change.
            moves = [
                (op, list(links.filter(rich_menu_id=op.get("from")).values_list("pk", flat=True)))
                for op in operations
            ]
            for operation, pks in moves:
                if operation["type"] == "link":
                    _usable(self.municipality, operation["to"])
                    links.filter(pk__in=pks).update(rich_menu_id=operation["to"])
                elif operation["type"] == "unlink":
                    links.filter(pk__in=pks).delete()
                elif operation["type"] == "unlinkAll":
                    links.delete()

    def rich_menu_batch_progress(self) -> str:
        return "succeeded"


def menu_payload(menu: SimulatedRichMenu, image_url: str) -> dict[str, Any]:
    """What the simulator page draws under the talk: the image, its areas and actions."""
    body = menu.body or {}
    return {
        "id": menu.rich_menu_id,
        "imageUrl": image_url,
        "size": body.get("size") or {},
        "chatBarText": body.get("chatBarText") or "",
        "areas": body.get("areas") or [],
    }


def talk_rich_menus(municipality: Municipality, line_user_id: str, image_url: Any) -> dict[str, Any]:
    """``{"richMenu": <the user's menu or None>, "richMenuAliases": {alias: menu}}`` for the talk
    view; ``image_url(rich_menu_id)`` is the image's address on the simulator."""
    menu = menu_for_user(municipality, line_user_id)
    aliases = {}
    for aliased in SimulatedRichMenu.objects.filter(municipality=municipality).exclude(aliases=[]):
        for alias in aliased.aliases or []:
            aliases[alias] = menu_payload(aliased, image_url(aliased.rich_menu_id))
    return {
        "richMenu": menu_payload(menu, image_url(menu.rich_menu_id)) if menu is not None else None,
        "richMenuAliases": aliases,
    }
