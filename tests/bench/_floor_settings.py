"""Settings of ``booking.py --floor``: the product's, with the floor booking page added
(``_floor_urls``)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "_floor_urls"
