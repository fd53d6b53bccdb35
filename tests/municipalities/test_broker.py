"""The project's Redis broker transport (config/broker.py): kombu's, with one client for publishing."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings

from config import celery_app
from config.broker import Transport

pytestmark = pytest.mark.redis


def test_publishes_share_one_client_and_messages_go_through():
    # given: the app's broker connection (the settings choose this transport for redis://)
    assert settings.CELERY_BROKER_URL.startswith("redis://")
    queue_name = f"broker-test-{uuid.uuid4().hex}"
    with celery_app.connection_for_write() as connection:
        assert isinstance(connection.transport, Transport)
        channel = connection.default_channel
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second
        # when: two messages are published and read back
        queue = connection.SimpleQueue(queue_name)
        try:
            queue.put({"n": 1})
            queue.put({"n": 2})
            received = [queue.get(timeout=5), queue.get(timeout=5)]
            for message in received:
                message.ack()
        finally:
            queue.queue.delete()  # its messages and its binding
            queue.close()
    # then: in order, intact
    assert [message.payload for message in received] == [{"n": 1}, {"n": 2}]
