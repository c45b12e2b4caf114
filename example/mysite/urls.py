from __future__ import annotations

from django.urls import path

from pages import views

urlpatterns = [
    path("", views.index, name="index"),
    path("db/", views.db, name="db"),
    path("slow/", views.slow, name="slow"),
]
