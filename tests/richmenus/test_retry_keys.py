"""X-Line-Retry-Key where LINE's spec takes it, and how the rich-menu calls that LINE gives no
retry key are made safe to send again.

LINE's OpenAPI document (shared/line-openapi/messaging-api.yml) declares the header on push,
multicast, narrowcast and broadcast only. The gateway sends it on each of those it uses (a
required argument, derived from what is sent, so a re-send reuses it) and on nothing else: the
bulk link/unlink and the batch control have no such parameter. Those are safe to re-send by what
they do: a bulk link sets each user's menu (sending it twice leaves the same state, and the
services send only the difference they have not recorded yet), and the batch control carries
``resumeRequestKey``, kept on the town's 災害モード row and sent again unchanged."""

from __future__ import annotations

import inspect

import pytest
from django.utils import timezone

from municipalities.line.api import ApiClient
from municipalities.line.errors import LineRetryableError
from municipalities.line.simulator import SimulatorClient
from municipalities.models import Resident
from richmenus.models import DisasterMode, ResidentRichMenu, RichMenu
from richmenus.services import disaster_mode_apply, disaster_mode_switch, richmenu_line_sync
from tests.fakeline_richmenus import retry_key_operations
from tests.richmenus.factories import DISASTER_TILES, make_menu

pytestmark = pytest.mark.django_db


def test_lines_spec_takes_a_retry_key_on_the_message_sends_only():
    assert retry_key_operations() == {
        ("POST", "/v2/bot/message/push"),
        ("POST", "/v2/bot/message/multicast"),
        ("POST", "/v2/bot/message/narrowcast"),
        ("POST", "/v2/bot/message/broadcast"),
    }


@pytest.mark.parametrize("client_class", [ApiClient, SimulatorClient])
@pytest.mark.parametrize("method", ["push", "multicast", "broadcast"])
def test_every_message_send_requires_its_retry_key(client_class, method):
    # (narrowcast is not used by the project)
    parameter = inspect.signature(getattr(client_class, method)).parameters["retry_key"]
    assert parameter.kind is inspect.Parameter.KEYWORD_ONLY and parameter.default is inspect.Parameter.empty


def test_rich_menu_calls_send_no_retry_key_and_a_resent_batch_reuses_its_resume_key(town, line_api):
    default = make_menu(town, name="通常", is_default=True)
    elderly = make_menu(town, name="高齢者向け", target_age_bands=["70p"])
    make_menu(town, name="災害時", kind=RichMenu.Kind.DISASTER, tiles=DISASTER_TILES)
    residents = [
        Resident.objects.create(
            municipality=town, line_user_id=f"U{n:032d}", is_following=True, age_band="70p"
        )
        for n in range(3)
    ]
    richmenu_line_sync(menu_id=default.pk)
    richmenu_line_sync(menu_id=elderly.pk)
    for resident in residents:
        ResidentRichMenu.objects.create(resident=resident, menu=elderly, linked_at=timezone.now())
        line_api.richmenus.state.links[resident.line_user_id] = RichMenu.objects.get(
            pk=elderly.pk
        ).line_rich_menu_id
    mode = disaster_mode_switch(municipality=town, on=True, actor=None, enqueue=False)
    # LINE takes the batch but its answer is lost (500): the task runs again
    line_api.fail("richmenu_batch", 500)
    with pytest.raises(LineRetryableError):
        disaster_mode_apply(mode_id=mode.pk)
    disaster_mode_apply(mode_id=mode.pk)
    batches = line_api.requests_to("richmenu_batch")
    assert len(batches) == 2
    assert {b.body["resumeRequestKey"] for b in batches} == {DisasterMode.objects.get(pk=mode.pk).request_key}
    copy = DisasterMode.objects.get(pk=mode.pk).line_copies[str(elderly.pk)]["id"]
    assert {line_api.richmenus.menu_of(r.line_user_id) for r in residents} == {copy}
    # and no rich-menu request carried a retry key LINE's spec does not define there
    sent = [r for r in line_api.requests if r.path.startswith(("/v2/bot/richmenu", "/v2/bot/user/"))]
    assert sent and not [r.path for r in sent if r.retry_key is not None]
    assert line_api.schema_errors == []
