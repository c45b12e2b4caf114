from __future__ import annotations

from django.urls import path

from django_prodserver.testing.project import views

urlpatterns = [
    path("", views.index),
    path("db/", views.db),
    path("release/", views.release),
    path("slow/", views.slow),
    path("block/", views.block),
    path("log/", views.log),
    path("alog/", views.alog),
    path("boom/", views.boom),
    path("gc/", views.collector),
    path("burn/", views.burn),
    path("hoard/", views.hoard),
]
