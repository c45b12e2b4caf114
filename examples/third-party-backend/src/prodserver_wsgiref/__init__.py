"""prodserver-wsgiref: an example third-party django-prodserver backend."""

from .backend import WsgirefBackend

__all__ = ["WsgirefBackend"]
