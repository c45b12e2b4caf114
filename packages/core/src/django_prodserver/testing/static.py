"""Static contract layer: what every backend must satisfy without starting a process."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest

from django_prodserver.backends.base import Backend, LaunchContext
from django_prodserver.backends.registry import installed_backends
from django_prodserver.errors import ConfigError
from django_prodserver.settings.config import load_process
from django_prodserver.testing.helpers import project_context


class BackendContract:
    """Subclass in your backend's tests and set the attributes; every test is inherited.

    Example::

        class TestMyServerContract(WebServerContract):
            backend_class = MyServerBackend
            entry_point_name = "myserver"

    Override a contract test only with ``@pytest.mark.xfail(reason=..., strict=True)``, or
    list it in ``expected_failures``; ``test_overrides_are_marked`` enforces that.
    """

    backend_class: ClassVar[type[Backend]]
    entry_point_name: ClassVar[str]
    #: OPTIONS valid for this backend, used by the static tests and live tests alike.
    example_options: ClassVar[Mapping[str, Any]] = {}
    #: APP for the example process (None: from the test project's WSGI/ASGI_APPLICATION).
    example_app: ClassVar[str | None] = None
    #: A native override that must replace a configured flag, e.g. ("--workers", "3"):
    #: (flag tokens to pass after --, the flag as the plan must show it).
    native_override: ClassVar[tuple[tuple[str, ...], str] | None] = None
    #: Contract tests this backend is known to fail: {test name: reason} (strict xfail).
    expected_failures: ClassVar[Mapping[str, str]] = {}

    # -- helpers -----------------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _expected_failure(self, request: pytest.FixtureRequest) -> None:
        reason = self.expected_failures.get(request.node.originalname)
        if reason:
            request.applymarker(pytest.mark.xfail(reason=reason, strict=True))

    def make_context(self, **changes: Any) -> LaunchContext:
        return project_context(**changes)

    def make_backend(self, options: Mapping[str, Any] | None = None, **entry: Any) -> Backend:
        raw: dict[str, Any] = {"BACKEND": self.entry_point_name}
        if self.example_app:
            raw["APP"] = self.example_app
        raw["OPTIONS"] = dict(self.example_options if options is None else options)
        raw.update(entry)
        return self.backend_class(load_process("web", raw))

    # -- the contract ------------------------------------------------------------------

    def test_entry_point_loads_the_class(self) -> None:
        """The entry point named ``entry_point_name`` loads ``backend_class``.
        Fix: register it under [project.entry-points."django_prodserver.backends"]."""
        installed = installed_backends()
        assert self.entry_point_name in installed, f"not registered; installed: {list(installed)}"
        assert installed[self.entry_point_name].load() is self.backend_class
        assert self.backend_class.name == self.entry_point_name

    def test_options_are_declared_and_documented(self) -> None:
        """Every option has a unique name, a type, a doc line, and uniform ones match the catalog.
        Fix: declare options with ``WEB_OPTIONS[name].declare(...)`` or a documented Option."""
        names = [o.name for o in self.backend_class.options]
        assert len(names) == len(set(names)), f"duplicate option names: {names}"
        for opt in self.backend_class.options:
            assert opt.doc.strip(), f"option {opt.name!r} has no doc"
            if opt.name in self.backend_class.catalog:
                assert opt.kind == self.backend_class.catalog[opt.name].kind, f"{opt.name} changes the uniform type"

    def test_plan_is_deterministic(self) -> None:
        """Planning twice from the same input gives the same plan (no hidden state).
        Fix: derive everything from the LaunchContext, never from globals or time."""
        ctx = self.make_context()
        assert self.make_backend().plan(ctx) == self.make_backend().plan(ctx)

    def test_plan_uses_the_configured_app(self) -> None:
        """The plan's command names the application it will serve.
        Fix: use ``self.app_path(opts, ctx)`` when building args."""
        plan = self.make_backend().plan(self.make_context())
        if self.example_app:
            assert any(self.example_app.split(":")[0] in a for a in plan.command), plan.command

    def test_unknown_option_names_the_key(self) -> None:
        """A misspelt option fails with its exact settings path.
        Fix: let ``Backend.resolve`` validate; never drop unknown keys."""
        backend = self.make_backend({**self.example_options, "no_such_option": 1})
        with pytest.raises(ConfigError) as info:
            backend.plan(self.make_context())
        assert "['OPTIONS']['no_such_option']" in str(info.value)

    def test_wrong_type_names_the_key_and_expectation(self) -> None:
        """A value of the wrong type fails naming the key, what was expected and what was found.
        Fix: declare the option's kind correctly."""
        typed = [o for o in self.backend_class.options if o.kind in ("int", "float", "bool")]
        if not typed:
            pytest.skip("backend declares no typed options")
        opt = typed[0]
        backend = self.make_backend({**self.example_options, opt.name: "not-a-number"})
        with pytest.raises(ConfigError) as info:
            backend.plan(self.make_context())
        message = str(info.value)
        assert f"[{opt.name!r}]" in message and "expected" in message and "not-a-number" in message

    def test_unsupported_uniform_options_are_refused(self) -> None:
        """Each contract option the backend does not declare is refused with a reason; each
        undeclared tuning option is accepted with a warning, never silently dropped.
        Fix: declare the option with its native mapping, or give the reason in ``refused``."""
        declared = {o.name for o in self.backend_class.declared_options()}
        missing = [o for name, o in self.backend_class.catalog.items() if name not in declared]
        for opt in missing:
            value = {"int": 2, "float": 1.0, "bool": True, "list": ["x"]}.get(opt.kind, "x")
            if opt.choices:
                value = opt.choices[0]
            backend = self.make_backend({**self.example_options, opt.name: value})
            if not opt.contract and self.backend_class.kind == "web":
                plan = backend.plan(self.make_context())
                assert any(f"{opt.name}=" in w for w in plan.warnings), plan.warnings
                continue
            with pytest.raises(ConfigError) as info:
                backend.plan(self.make_context())
            assert opt.name in str(info.value) and "cannot honour" in str(info.value)

    def test_native_args_replace_configured_flags(self) -> None:
        """A native flag after ``--`` replaces the configured one instead of piling up.
        Fix: describe the CLI's aliases and switches in ``Backend.flags``."""
        if self.native_override is None:
            pytest.skip("no native_override declared")
        tokens, flag = self.native_override
        plan = self.make_backend().plan(self.make_context(native_args=tuple(tokens)))
        aliases = self.backend_class.flags.aliases
        canon = aliases.get(flag, flag)
        occurrences = [a for a in plan.args if aliases.get(a.split("=")[0], a.split("=")[0]) == canon]
        assert len(occurrences) == 1, plan.args
        assert plan.args[-len(tokens) :] == tuple(tokens)

    def test_check_reports_namespaced_errors(self) -> None:
        """``manage.py check`` reports bad config with namespaced ids.
        Fix: return ``checks.Error(..., id="<namespace>.E001")`` from ``Backend.check``."""
        backend = self.make_backend({**self.example_options, "no_such_option": 1})
        messages = backend.check(self.make_context())
        assert messages, "a bad option produced no check message"
        for msg in messages:
            assert msg.id and msg.id.split(".")[0].startswith("prodserver"), msg.id

    def test_import_has_no_side_effects(self) -> None:
        """Importing the backend module starts nothing, sets no signal handlers, changes no env.
        Fix: move work from import time into ``plan()`` or the host's ``run(plan)``."""
        module = self.backend_class.__module__
        code = (
            "import json, os, signal, sys, threading\n"
            "sigs = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}\n"
            "env = dict(os.environ); threads = threading.active_count()\n"
            f"import {module}\n"
            "import django.conf\n"
            "print(json.dumps({'signals': all(signal.getsignal(s) == h for s, h in sigs.items()),"
            " 'env': env == dict(os.environ), 'threads': threading.active_count() == threads,"
            " 'configured': django.conf.settings.configured}))\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout.strip().splitlines()[-1])
        assert result == {"signals": True, "env": True, "threads": True, "configured": False}, result

    def test_overrides_are_marked(self) -> None:
        """A subclass that overrides a contract test must mark it strict xfail (or list it in
        ``expected_failures``), so a skipped contract is visible. Fix: add the marker."""
        contract_tests: dict[str, Any] = {}
        for base in type(self).__mro__:
            if base.__module__.startswith("django_prodserver.testing"):
                for name, value in vars(base).items():
                    if name.startswith("test_") and name not in contract_tests:
                        contract_tests[name] = value
        for name, original in contract_tests.items():
            current = inspect.getattr_static(type(self), name)
            if current is original or name in self.expected_failures:
                continue
            marks = getattr(current, "pytestmark", [])
            ok = any(m.name == "xfail" and m.kwargs.get("strict") is True for m in marks)
            assert ok, f"{type(self).__name__}.{name} overrides a contract test without xfail(strict=True)"
