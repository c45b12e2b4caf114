"""All a third party needs: subclass the contract suite and set three attributes."""

from prodserver_wsgiref import WsgirefBackend

from django_prodserver.testing import WebServerContract


class TestWsgirefContract(WebServerContract):
    backend_class = WsgirefBackend
    entry_point_name = "wsgiref"
    example_options = {"drain_delay": 2.0}
