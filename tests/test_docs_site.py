"""The documentation site: ``mkdocs build --strict`` passes (no broken link or anchor), its
generated reference lists every backend's options and every check id, and no page carries
internal bookkeeping. One build for the module (~5 s)."""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT / "packages"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    env.pop("DJANGO_SETTINGS_MODULE", None)  # the hook configures the little Django it needs
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    return out


def page_text(path: Path) -> str:
    """A built page's visible text: tags dropped, entities decoded."""
    raw = path.read_text(encoding="utf-8")
    raw = re.sub(r"<(script|style)\b.*?</\1>", " ", raw, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", raw))


def sections(page: Path, tag: str) -> dict[str, str]:
    """The HTML under each ``<tag id=...>`` heading up to the next one, by id."""
    parts = re.split(rf'<{tag} id="([^"]+)"', page.read_text(encoding="utf-8"))
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_options_reference_lists_every_installed_backends_options(site: Path) -> None:
    from django_prodserver.describe import installed_classes

    found = sections(site / "reference" / "options" / "index.html", "h3")
    classes = installed_classes()
    assert {"gunicorn", "granian", "uvicorn", "celery-worker", "rq"} <= set(classes)
    for name, cls in classes.items():
        assert name in found, f"backend {name!r} has no section on the options page"
        cells = set(re.findall(r"<td>([^<]+?)(?: \(own\))?</td>", found[name]))
        names = {o.name for o in cls.declared_options()} | set(cls.catalog)
        assert names <= cells, f"{name}: options missing from the page: {sorted(names - cells)}"


def test_signals_reference_lists_every_backends_stop_signal(site: Path) -> None:
    import signal

    from django_prodserver.describe import installed_classes

    page = (site / "reference" / "signals-and-exit-codes" / "index.html").read_text(encoding="utf-8")
    rows = {r[0]: r[1:] for r in re.findall(r"<tr>\s*<td>([\w-]+)</td>\s*<td>\w+</td>\s*<td>(\w+)</td>", page)}
    for name, cls in installed_classes().items():
        assert rows.get(name) == (signal.Signals(cls.stop_signal).name,), f"{name}: {rows.get(name)}"


def source_check_ids() -> set[str]:
    """Every check id in the packages' source, found by text, not by the hook's parser: literal
    ids, ``{self.check_namespace}.E00N`` with the namespace the same file declares, and the
    ``<namespace>.E001`` every web backend reports for its options."""
    from django_prodserver.describe import installed_classes

    ids: set[str] = set()
    for path in PACKAGES.glob("*/src/**/*.py"):
        if "testing" in path.relative_to(PACKAGES).parts or path.name == "testing.py":
            continue
        text = path.read_text(encoding="utf-8")
        ids |= set(re.findall(r"[\"'](prodserver[a-z0-9_]*\.[EW]\d{3})[\"']", text))
        namespaces = re.findall(r"check_namespace\b[^=\n]*= \"(prodserver[a-z0-9_]*)\"", text)
        for code in re.findall(r"\{self\.check_namespace\}\.([EW]\d{3})", text):
            assert namespaces, f"{path}: a namespaced check id but no check_namespace literal"
            ids |= {f"{ns}.{code}" for ns in namespaces}
    for cls in installed_classes().values():
        if cls.kind == "web" and cls.check_namespace != "prodserver":
            ids.add(f"{cls.check_namespace}.E001")
    return ids


def test_checks_reference_lists_every_check_id_with_its_message(site: Path) -> None:
    page = (site / "reference" / "checks" / "index.html").read_text(encoding="utf-8")
    rows = dict(re.findall(r"<code>(prodserver[a-z0-9_]*\.[EW]\d{3})</code></td>\s*<td>(.*?)</td>", page, re.S))
    expected = source_check_ids()
    assert {"prodserver.E001", "prodserver.E021", "prodserver_gunicorn.E001", "prodserver_rq.E001"} <= expected
    assert expected <= set(rows), f"check ids missing from the page: {sorted(expected - set(rows))}"
    empty = sorted(ident for ident, message in rows.items() if message.strip() in ("", "-"))
    assert not empty, f"check ids without a message: {empty}"


def internal_test_names() -> set[str]:
    """Names of our own test functions. The contract suite's (``django_prodserver.testing``) are
    public API for backend authors and may be named on the pages."""
    ours: set[str] = set()
    for path in [*ROOT.glob("tests/**/*.py"), *PACKAGES.glob("*/tests/**/*.py")]:
        ours |= set(re.findall(r"^\s*(?:async )?def (test_\w+)", path.read_text(encoding="utf-8"), re.M))
    public: set[str] = set()
    for path in PACKAGES.glob("*/src/**/testing/**/*.py"):
        public |= set(re.findall(r"^\s*(?:async )?def (test_\w+)", path.read_text(encoding="utf-8"), re.M))
    return ours - public


BOOKKEEPING = [
    (re.compile(r"(?<![\w&])#\d{1,4}\b"), "an issue number"),
    (re.compile(r"\bissues? #?\d+", re.I), "an issue number"),
    (re.compile(r"\bwaves?\b|\bwave-\d", re.I), "'wave'"),
    (re.compile(r"\bBACKENDS\.md\b"), "an internal planning file"),
]


def test_no_page_carries_internal_bookkeeping(site: Path) -> None:
    names = internal_test_names()
    assert len(names) > 100, "found too few test functions: the search is broken"
    problems: list[str] = []
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 30
    for path in pages:
        text = page_text(path)
        where = path.relative_to(site)
        for pattern, what in BOOKKEEPING:
            problems += [f"{where}: {what}: {m.group(0)!r}" for m in pattern.finditer(text)]
        problems += [f"{where}: a test function name: {m!r}" for m in re.findall(r"\btest_\w+", text) if m in names]
        # Our own test files (a backend's own tests/test_contract.py is the user's file, not ours).
        files = re.findall(r"\btests?/(test_\w+\.py)", text)
        problems += [f"{where}: a test file: {f!r}" for f in files if (ROOT / "tests" / f).exists()]
    assert not problems, "internal bookkeeping on the site:\n" + "\n".join(problems)


def test_the_bookkeeping_search_finds_what_it_looks_for() -> None:
    """The patterns above are not vacuous: each catches the kind of line it was written for."""
    samples = {
        "as decided in #23": "an issue number",
        "see issue 27": "an issue number",
        "after the wave-2 merge": "'wave'",
    }
    for text, what in samples.items():
        assert any(p.search(text) and w == what for p, w in BOOKKEEPING), text
    assert not any(p.search("PKCS#8 keys, &#39;quoted&#39;, waveform") for p, _ in BOOKKEEPING)
    assert "test_bounded_stop_requeues_the_running_task" in internal_test_names()
