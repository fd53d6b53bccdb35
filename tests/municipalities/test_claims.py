"""The core's claimed-work helpers (municipalities/claims.py), on a model that uses them."""

import datetime as dt
import time

import pytest
from django.db import connection
from django.utils import timezone

from municipalities.claims import Heartbeat, claim, claims_reoffer_stale, heartbeat, worker_identity
from reservations.models import ReminderDelivery, ReminderStatus
from reservations.services import reservation_book
from tests.reservations.factories import MenuFactory, SlotFactory


@pytest.fixture
def row(kenko, resident) -> ReminderDelivery:
    menu = MenuFactory(department=kenko, reminder_offsets="2時間前")
    reservation = reservation_book(slot=SlotFactory(menu=menu), resident=resident)
    return ReminderDelivery.objects.create(reservation=reservation, offset_key="2h", due_at=timezone.now())


def test_of_two_claims_one_wins_and_it_records_who_and_when(row):
    # given
    pending = ReminderDelivery.objects.filter(pk=row.pk, status=ReminderStatus.PENDING)
    now = timezone.now()
    # when
    first = claim(pending, now=now, status=ReminderStatus.SENDING)
    second = claim(pending, now=now, status=ReminderStatus.SENDING)
    # then
    row.refresh_from_db()
    assert (first, second) == (1, 0)
    assert (row.claimed_by, row.claimed_at, row.heartbeat_at, row.claim_count) == (
        worker_identity(),
        now,
        now,
        1,
    )


def test_a_heartbeat_counts_only_for_the_worker_holding_the_claim(row):
    # given: another worker took the row over
    claim(ReminderDelivery.objects.filter(pk=row.pk), status=ReminderStatus.SENDING)
    ReminderDelivery.objects.filter(pk=row.pk).update(claimed_by="other-host:1")
    # when
    beats = heartbeat(ReminderDelivery.objects.filter(pk=row.pk))
    # then: told that the claim is no longer ours
    assert beats == 0


def test_only_claims_without_a_recent_heartbeat_are_offered_again(row, settings):
    # given: claimed 5 minutes ago, last beat 70 s ago; the threshold is 60 s
    settings.CLAIM_STALE_AFTER_SECONDS = 60
    now = timezone.now()
    claim(
        ReminderDelivery.objects.filter(pk=row.pk),
        now=now - dt.timedelta(minutes=5),
        status=ReminderStatus.SENDING,
    )
    ReminderDelivery.objects.filter(pk=row.pk).update(heartbeat_at=now - dt.timedelta(seconds=70))
    sending = ReminderDelivery.objects.filter(status=ReminderStatus.SENDING)
    # when
    too_early = claims_reoffer_stale(
        sending, now=now - dt.timedelta(seconds=20), status=ReminderStatus.PENDING
    )
    offered = claims_reoffer_stale(sending, now=now, status=ReminderStatus.PENDING)
    # then
    row.refresh_from_db()
    assert (too_early, offered) == ([], [row.pk])
    assert (row.status, row.claimed_by, row.heartbeat_at, row.claim_count) == ("pending", "", None, 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_heartbeat_beats_from_its_own_thread_while_the_block_runs(row):
    # given: a claim whose only beat is its start
    start = timezone.now() - dt.timedelta(minutes=1)
    claim(ReminderDelivery.objects.filter(pk=row.pk), now=start, status=ReminderStatus.SENDING)
    # when: long work under a heartbeat every 0.1 s
    with Heartbeat(ReminderDelivery.objects.filter(pk=row.pk), every=0.1):
        time.sleep(0.6)
        during = ReminderDelivery.objects.get(pk=row.pk).heartbeat_at
    time.sleep(0.3)
    after = ReminderDelivery.objects.get(pk=row.pk).heartbeat_at
    # then: it beat while the block ran, and stopped with it
    assert during > start + dt.timedelta(seconds=59)
    assert after - during < dt.timedelta(seconds=0.25)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_heartbeat_goes_on_after_its_connection_is_cut(row):
    # given: work under a heartbeat every 0.1 s
    claim(ReminderDelivery.objects.filter(pk=row.pk), status=ReminderStatus.SENDING)
    with Heartbeat(ReminderDelivery.objects.filter(pk=row.pk), every=0.1):
        time.sleep(0.3)
        # when: the database ends the heartbeat's session (a restart, pg_terminate_backend)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND query LIKE %s",
                ['UPDATE "reservations_reminderdelivery" SET "heartbeat_at"%'],
            )
            [cut] = cursor.fetchone()
        cut_at = timezone.now()
        time.sleep(0.6)
        beat = ReminderDelivery.objects.get(pk=row.pk).heartbeat_at
    # then: the next beats came on a new connection
    assert cut == 1 and beat > cut_at
