"""Backend resolution: entry points, dotted paths, legacy paths, and errors that say what to do."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from django_prodserver.backends.registry import installed_backends, resolve_backend
from django_prodserver.errors import BackendNotFound, ConfigError


def make_distribution(root: Path, name: str, entry_points: str, module: str | None = None, code: str = "") -> None:
    """A real installed-distribution layout (dist-info with entry_points.txt) on sys.path."""
    info = root / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
    if module:
        (root / f"{module}.py").write_text(textwrap.dedent(code))


@pytest.fixture
def site(tmp_path: Path):
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for mod in [m for m in sys.modules if m.startswith("thirdparty_")]:
        del sys.modules[mod]


def test_entry_point_name_resolves_with_its_distribution() -> None:
    resolved = resolve_backend("gunicorn")
    assert resolved.cls.__name__ == "GunicornBackend"
    assert resolved.distribution == "django-prodserver-gunicorn"


def test_unknown_backend_lists_installed_and_the_pip_line() -> None:
    with pytest.raises(BackendNotFound) as info:
        resolve_backend("hypercorn-nope", "PRODUCTION_PROCESSES['web']['BACKEND']")
    msg = str(info.value)
    assert "PRODUCTION_PROCESSES['web']['BACKEND']" in msg and "gunicorn" in msg


def test_known_but_uninstalled_backend_names_the_extra() -> None:
    from django_prodserver.backends.registry import _not_found

    error = _not_found("PRODUCTION_PROCESSES['web']['BACKEND']", "flower", "no backend named 'flower' is installed")
    assert 'pip install "django-prodserver[flower]"' in str(error)
    assert "installed backends: " in str(error) and "gunicorn" in str(error)


def test_third_party_entry_point_plugs_in(site: Path) -> None:
    make_distribution(
        site,
        "thirdparty-server",
        "[django_prodserver.backends]\nthirdparty = thirdparty_server:Server\n",
        "thirdparty_server",
        "from django_prodserver.backends.base import WebBackend\nclass Server(WebBackend):\n    name = 'thirdparty'\n",
    )
    resolved = resolve_backend("thirdparty")
    assert resolved.cls.__name__ == "Server" and resolved.distribution == "thirdparty-server"


def test_two_distributions_claiming_one_name_is_an_error(site: Path) -> None:
    make_distribution(site / "a", "thirdparty-a", "[django_prodserver.backends]\ndup = thirdparty_a:X\n")
    make_distribution(site / "b", "thirdparty-b", "[django_prodserver.backends]\ndup = thirdparty_b:X\n")
    sys.path[1:1] = [str(site / "a"), str(site / "b")]
    try:
        with pytest.raises(ConfigError) as info:
            installed_backends()
        assert "thirdparty-a" in str(info.value) and "thirdparty-b" in str(info.value)
    finally:
        sys.path.remove(str(site / "a"))
        sys.path.remove(str(site / "b"))


def test_dotted_path_to_a_backend_class() -> None:
    assert resolve_backend("django_prodserver_gunicorn.backend.GunicornBackend").cls.name == "gunicorn"


def test_dotted_path_missing_module_is_not_found() -> None:
    with pytest.raises(BackendNotFound, match="no module 'nosuchpkg'"):
        resolve_backend("nosuchpkg.backend.Server")


def test_real_import_errors_inside_a_module_are_not_hidden(site: Path) -> None:
    (site / "thirdparty_broken.py").write_text("import thirdparty_missing_dependency\n")
    with pytest.raises(ModuleNotFoundError, match="thirdparty_missing_dependency"):
        resolve_backend("thirdparty_broken.Server")


def test_non_backend_class_is_refused() -> None:
    with pytest.raises(BackendNotFound, match="not a django_prodserver"):
        resolve_backend("collections.OrderedDict")


@pytest.mark.parametrize(
    "path",
    [
        "django_prodserver.backends.servers.gunicorn.GunicornServer",
        "django_prodserver.backends.gunicorn.GunicornServer",
    ],
)
def test_upstream_paths_warn_with_the_new_spelling(path: str) -> None:
    with pytest.warns(DeprecationWarning, match='"BACKEND": "gunicorn"'):
        resolved = resolve_backend(path)
    assert resolved.name == "gunicorn" and resolved.legacy is not None


def test_the_scan_is_kept_until_a_distribution_is_installed_or_removed(site: Path) -> None:
    """One scan serves a start's check and plan; a distribution added to a folder already on
    sys.path (what pip does) is seen at once, and so is its removal."""
    before = installed_backends()
    assert installed_backends() == before and installed_backends() is not installed_backends()
    make_distribution(site, "thirdparty-late", "[django_prodserver.backends]\nlate = thirdparty_late:Late\n")
    assert "late" in installed_backends() and "late" not in before
    import shutil

    shutil.rmtree(site / "thirdparty_late-1.0.dist-info")
    assert "late" not in installed_backends()


def test_only_the_backends_group_is_parsed(site: Path) -> None:
    """A start reads only the section it needs: another distribution's malformed entry points
    (a line without '=', which makes ``importlib.metadata.entry_points()`` raise) change nothing."""
    make_distribution(site, "thirdparty-broken-eps", "[console_scripts]\nnot an entry point\n")
    make_distribution(
        site,
        "thirdparty-mixed",
        "# a comment\n[console_scripts]\nmixed = thirdparty_mixed:main\n\n"
        "[django_prodserver.backends]\n  # indented comment\n  mixed = thirdparty_mixed:Server  \n",
    )
    found = installed_backends()
    assert found["mixed"].value == "thirdparty_mixed:Server"
    assert (found["mixed"].distribution, found["mixed"].version) == ("thirdparty-mixed", "1.0")
    assert "gunicorn" in found


def test_the_first_distribution_of_a_name_on_sys_path_wins(site: Path) -> None:
    """As in importlib.metadata: an earlier copy of a distribution hides a later one, also when
    only the later copy registers a backend (a stale install shadowed by a newer one)."""
    make_distribution(site / "new", "thirdparty-shadow", "[console_scripts]\nshadow = thirdparty_shadow:main\n")
    make_distribution(site / "old", "thirdparty-shadow", "[django_prodserver.backends]\nshadow = thirdparty_shadow:S\n")
    sys.path[1:1] = [str(site / "new"), str(site / "old")]
    try:
        assert "shadow" not in installed_backends()
    finally:
        sys.path.remove(str(site / "new"))
        sys.path.remove(str(site / "old"))
    assert "shadow" not in installed_backends()
