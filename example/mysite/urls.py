from __future__ import annotations

from django.urls import path
from pages import views

urlpatterns = [
    path("", views.index, name="index"),
    path("db/", views.db, name="db"),
    path("slow/", views.slow, name="slow"),
    path("task/", views.enqueue, name="enqueue"),
    path("task/<str:task_id>/", views.task_status, name="task-status"),
]
