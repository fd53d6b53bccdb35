"""Every feature app has the same shape (STYLE R1, R2): its error class in ``<app>/errors.py``, a
subclass of the core ServiceError, and its reads beyond one-liners in ``<app>/selectors.py``."""

import importlib

import pytest

from municipalities.errors import ServiceError

APP_ERRORS = {
    "applications": "ApplicationError",
    "broadcasts": "BroadcastError",
    "chatbot": "ChatbotError",
    "reservations": "ReservationError",
}


@pytest.mark.parametrize(("app", "name"), sorted(APP_ERRORS.items()))
def test_each_app_error_lives_in_the_apps_errors_module_and_is_a_service_error(app, name):
    # given
    errors = importlib.import_module(f"{app}.errors")
    # when
    error = getattr(errors, name)
    # then
    assert issubclass(error, ServiceError)
    assert error.__module__ == f"{app}.errors"


def test_reservation_error_is_still_importable_from_the_services_package():
    # given
    from reservations import errors, services

    # then: one class, re-exported
    assert services.ReservationError is errors.ReservationError


@pytest.mark.parametrize("app", sorted(APP_ERRORS))
def test_each_app_has_a_selectors_module(app):
    # when
    selectors = importlib.import_module(f"{app}.selectors")
    # then
    assert selectors.__name__ == f"{app}.selectors"
