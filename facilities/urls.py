"""Resident pages of 施設予約 (LIFF). The resident-flow pages are added here."""

from django.urls import path  # noqa: F401

app_name = "facilities"

urlpatterns: list = []
