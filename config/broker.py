"""Kombu's Redis transport, with one Redis client per connection pool for publishing.

Kombu 5.7's Redis channel builds a new ``redis.Redis`` for every message it publishes
(``Channel.conn_or_acquire`` → ``_create_client``), and redis-py registers its hundreds of
response callbacks in each: about a quarter of the CPU of a publish, paid by every booking's
confirmation and every broadcast batch. As in ``config/cache.py``, a ``redis.Redis`` keeps
nothing but its pool and is safe to share, so the channel keeps one per pool. The consumer's
own clients (BRPOP, pub/sub) are kombu's, untouched.

Used when the broker is Redis (``CELERY_BROKER_TRANSPORT`` in the settings).
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis


class Channel(redis.Channel):
    _shared_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)
        client = self._shared_client
        if client is None or client.connection_pool is not self.pool:
            client = self._shared_client = super()._create_client()
        return client


class Transport(redis.Transport):
    Channel = Channel
