"""A visit counter: the database view writes and reads it."""

from __future__ import annotations

from django.db import models


class Visit(models.Model):
    path = models.CharField(max_length=200)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.path} at {self.created:%H:%M:%S}"
