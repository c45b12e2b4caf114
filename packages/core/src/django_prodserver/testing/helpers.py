"""Small helpers backend tests share: a planning context for the test project, a TLS certificate."""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from django_prodserver.backends.base import LaunchContext
from django_prodserver.testing.processes import TEST_SETTINGS

PROJECT = "django_prodserver.testing.project"


def project_context(**changes: Any) -> LaunchContext:
    """A pure LaunchContext for the shipped test project (empty environment, fixed paths),
    so plans in tests do not depend on the machine that runs them."""
    values: dict[str, Any] = {
        "environ": {},
        "cwd": "/srv/app",
        "settings_module": TEST_SETTINGS,
        "python": "/usr/bin/python3",
        "wsgi_application": f"{PROJECT}.wsgi.application",
        "asgi_application": f"{PROJECT}.asgi.application",
    }
    values.update(changes)
    return LaunchContext(**values)


def flag_value(args: Sequence[str], name: str) -> str | None:
    """The argument following ``name`` in an argv (None when ``name`` is absent)."""
    args = list(args)
    return args[args.index(name) + 1] if name in args else None


def self_signed_cert(directory: Path) -> tuple[str, str]:
    """Write a throwaway certificate for 127.0.0.1 and its PKCS#8 key; return their paths.

    Made at test time (needs the ``cryptography`` package), never a key file kept in a repository."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)
