"""MkDocs hooks (mkdocs.yml ``hooks:``): the reference pages generated from the code at build time.

Generated, so they cannot drift from what the code accepts and reports:

- ``reference/options.md``: every installed backend's options, from its declarations
  (``django_prodserver.describe.markdown_table``), and the tables inside ``backends/*.md``;
- ``reference/checks.md``: every system-check id the packages can report, with its message and
  fix, found in the packages' source (the ids are string constants next to their messages);
- ``reference/cli.md``: the ``--help`` of ``prodserver``, its subcommands and ``devserver``;
"""

from __future__ import annotations

import ast
import functools
import io
import re
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
PACKAGES = ROOT / "packages"
GENERATED = ("reference/options.md", "reference/checks.md", "reference/cli.md")
CHECK_ID = re.compile(r"^(prodserver[a-z0-9_]*)\.([EW]\d{3})$")
_KINDS = {"web": "Web servers", "worker": "Task workers", "scheduler": "Schedulers", "monitor": "Monitors"}


def _django() -> None:
    """Settings enough to build the commands' parsers and load every backend class."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(INSTALLED_APPS=["django_prodserver"], PRODUCTION_PROCESSES={})
        django.setup()


# -- options -----------------------------------------------------------------------------


@functools.cache
def backend_classes() -> dict[str, Any]:
    from django_prodserver.describe import installed_classes

    _django()
    with redirect_stdout(io.StringIO()):  # a skipped third-party backend prints why
        return installed_classes()


def options_page(docs: Path) -> str:
    from django_prodserver.backends.options import WEB_OPTIONS, WORKER_OPTIONS
    from django_prodserver.describe import markdown_table

    classes = backend_classes()
    out = [
        "# Options of every backend",
        "",
        "Generated from each installed backend's option declarations when this site is built;",
        "`python manage.py prodserver --list-options NAME` prints the same for your project.",
        "A **uniform** option means the same under every backend of its kind; *(own)* marks an",
        "option only that backend has. *honoured* says how: the server's own flag (**native**),",
        "done by prodserver where the server has no such feature, **approximated** or **ignored**",
        "with a one-line warning at start (tuning options), or **refused** with the reason",
        "(contract options such as TLS or HTTP/2, which change what clients get).",
        "",
    ]
    for title, kind, catalog in (("web", "web", WEB_OPTIONS), ("worker", "worker", WORKER_OPTIONS)):
        out += [f"## Uniform {title} options", "", "| option | type | kind | meaning |", "|---|---|---|---|"]
        for opt in catalog.values():
            what = "contract" if opt.contract else "tuning"
            out.append(f"| `{opt.name}` | {opt.kind} | {what} | {_cell(opt.doc)} |")
        out += ["", *_matrix({n: c for n, c in sorted(classes.items()) if c.kind == kind}, catalog), ""]
    for kind, title in (*_KINDS.items(), ("", "Other backends")):
        names = [n for n, c in sorted(classes.items()) if (c.kind == kind if kind else c.kind not in _KINDS)]
        if not names:
            continue
        out += [f"## {title}", ""]
        for name in names:
            cls = classes[name]
            page = docs / "backends" / f"{name}.md"
            more = f" ([{name} page](../backends/{name}.md))" if page.exists() else ""
            out += [f"### {name}", "", f'`BACKEND: "{name}"`{more}', ""]
            out += [markdown_table(cls) if cls.declared_options() or cls.catalog else "No options.", ""]
    return "\n".join(out)


#: How each uniform option is honoured, as the cross-backend table spells it.
_SHORT = {"native": "yes", "prodserver": "prodserver", "approximated": "approx.", "ignored": "ignored"}


def _matrix(classes: dict[str, Any], catalog: Any) -> list[str]:
    """Options down, backends across: how each backend honours each uniform option."""
    if not classes:
        return []
    names = list(classes)
    rows = [
        "How each backend honours them: **yes** (honoured as documented), **prodserver** (the server",
        "has no such feature; prodserver provides it), **approx.** or **ignored** (a one-line warning",
        "at start), **refused** (a system-check error). The tables below give each native spelling.",
        "",
        "| option | " + " | ".join(names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for opt in catalog.values():
        cells = []
        for cls in classes.values():
            declared = {o.name: o for o in cls.declared_options()}
            if opt.name in declared:
                cells.append(_SHORT[declared[opt.name].support])
            else:
                cells.append("refused" if opt.contract else "ignored")
        rows.append(f"| `{opt.name}` | " + " | ".join(cells) + " |")
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# -- check ids ---------------------------------------------------------------------------


@dataclass
class CheckId:
    id: str
    package: str
    messages: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)


class _Text:
    """Render a message expression as readable text: constants resolved, other values as <name>."""

    def __init__(self, constants: dict[str, str]) -> None:
        self.constants = constants

    def __call__(self, node: ast.expr | None) -> str:
        if node is None:
            return ""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name) and node.id in self.constants:
            return self.constants[node.id]
        if isinstance(node, ast.JoinedStr):
            return "".join(self(v) if isinstance(v, ast.Constant) else self._hole(v) for v in node.values)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self(node.left) + self(node.right)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
            return re.sub(r"\{(\w+)[^}]*\}", r"<\1>", self(node.func.value))
        return self._hole(node)

    def _hole(self, node: ast.AST) -> str:
        value = node.value if isinstance(node, ast.FormattedValue) else node
        if isinstance(value, ast.Name) and value.id in self.constants:
            return self.constants[value.id]
        if isinstance(value, ast.Name):
            return f"<{value.id.strip('_').lower()}>"
        if isinstance(value, ast.Attribute):
            return "<type>" if value.attr == "__name__" else f"<{value.attr.strip('_')}>"
        return "..."


def _signatures(trees: list[ast.Module]) -> dict[str, list[str]]:
    """Parameter names of every function and class (its __init__) in the sources, by name."""
    sigs: dict[str, list[str]] = {"Error": ["msg", "hint", "obj", "id"], "Warning": ["msg", "hint", "obj", "id"]}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                sigs.setdefault(node.name, [a.arg for a in node.args.args + node.args.kwonlyargs])
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                        args = item.args.args[1:] + item.args.kwonlyargs
                        sigs[node.name] = [a.arg for a in args]
    return sigs


@dataclass
class _Wrapper:
    """A function that returns a ConfigError, or a ConfigError subclass with a fixed id."""

    params: list[str]
    call: ast.Call
    constants: dict[str, str]


def _wrappers(parsed: list[tuple[Path, ast.Module]]) -> dict[str, _Wrapper]:
    found: dict[str, _Wrapper] = {}
    for _, tree in parsed:
        constants = _constants(tree)
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                continue
            fn = (
                node
                if isinstance(node, ast.FunctionDef)
                else next((i for i in node.body if isinstance(i, ast.FunctionDef) and i.name == "__init__"), None)
            )
            if fn is None:
                continue
            params = [a.arg for a in fn.args.args + fn.args.kwonlyargs if a.arg != "self"]
            if isinstance(node, ast.FunctionDef) and "check_id" not in params:
                continue  # its own ConfigError calls carry their ids and are read where they are
            for inner in ast.walk(fn):
                if not isinstance(inner, ast.Call):
                    continue
                called = inner.func.attr if isinstance(inner.func, ast.Attribute) else getattr(inner.func, "id", "")
                if called == "ConfigError" or (
                    called == "__init__" and any(k.arg == "check_id" for k in inner.keywords)
                ):
                    found.setdefault(node.name, _Wrapper(params, inner, constants))
                    break
    return found


def _constants(tree: ast.Module) -> dict[str, str]:
    found: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Constant):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name) and isinstance(node.value.value, str):
                    found.setdefault(t.id, node.value.value)
    return found


def _namespaces(tree: ast.Module, constants: dict[str, str]) -> Iterator[tuple[ast.ClassDef, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                target: ast.expr
                if isinstance(item, ast.AnnAssign):
                    target, assigned = item.target, item.value
                elif isinstance(item, ast.Assign) and len(item.targets) == 1:
                    target, assigned = item.targets[0], item.value
                else:
                    continue
                if isinstance(target, ast.Name) and target.id == "check_namespace" and assigned is not None:
                    value = _Text(constants)(assigned)
                    if value and not value.startswith("<"):
                        yield node, value


def check_ids() -> dict[str, CheckId]:
    """Every check id in the packages' source, with the messages and fixes raised with it."""
    sources = sorted(
        p
        for p in PACKAGES.glob("*/src/**/*.py")
        if "testing" not in p.relative_to(PACKAGES).parts and p.name != "testing.py"
    )
    parsed = [(p, ast.parse(p.read_text(encoding="utf-8"))) for p in sources]
    sigs = _signatures([t for _, t in parsed])
    wrappers = _wrappers(parsed)
    found: dict[str, CheckId] = {}
    for path, tree in parsed:
        package = path.relative_to(PACKAGES).parts[0]
        constants = _constants(tree)
        text = _Text(constants)
        owner: dict[int, str] = {}
        for cls, namespace in _namespaces(tree, constants):
            for node in ast.walk(cls):
                owner[id(node)] = namespace

        def resolve(node: ast.expr | None, ns: str | None, text: _Text = text) -> str | None:
            if node is None:
                return None
            value = text(node)
            if ns:
                value = value.replace("<check_namespace>", ns)
            return value if CHECK_ID.match(value) else None

        purpose: dict[int, str] = {}  # node -> the first line of its function's docstring
        for fn in ast.walk(tree):
            if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and ast.get_docstring(fn):
                line = " ".join((ast.get_docstring(fn) or "").split("\n\n")[0].split())
                for sub in ast.walk(fn):
                    purpose[id(sub)] = line.replace("``", "`")

        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and CHECK_ID.match(node.value):
                found.setdefault(node.value, CheckId(node.value, package))
            if not isinstance(node, ast.Call):
                continue
            ns = owner.get(id(node))
            kw = {k.arg: k.value for k in node.keywords if k.arg}
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            params = dict(zip(sigs.get(name, []), node.args, strict=False))
            params.update(kw)
            ident = resolve(kw.get("check_id") or kw.get("id"), ns)
            wrapper = wrappers.get(name)
            if wrapper is not None and (ident or "check_id" not in wrapper.params):
                # Render the ConfigError the wrapper builds, with this call's arguments filled in.
                args = {k: text(v) for k, v in params.items() if isinstance(v, ast.expr)}
                inner_kw = {k.arg: k.value for k in wrapper.call.keywords if k.arg}
                inner = _Text({**wrapper.constants, **args})
                fixed = inner(inner_kw.get("check_id"))
                ident = ident or (fixed if CHECK_ID.match(fixed) else None)
                inner_params = dict(zip(sigs.get("ConfigError", []), wrapper.call.args, strict=False))
                inner_params.update(inner_kw)
                params = {**params, **{k: v for k in ("problem", "fix") if (v := inner_params.get(k)) is not None}}
                params.pop("msg", None)
                text_of = inner
            else:
                text_of = text
            if ident is None:
                continue
            entry = found.setdefault(ident, CheckId(ident, package))
            message = text_of(params.get("problem") or params.get("msg") or params.get("message"))
            fix = text_of(params.get("fix") or params.get("hint"))
            if not _says_something(message) and id(node) in purpose:
                message = purpose[id(node)]  # the message is built elsewhere: say what is checked
            if _says_something(message) and message not in entry.messages:
                entry.messages.append(message)
            if _says_something(fix) and fix not in entry.fixes:
                entry.fixes.append(fix)
    return found


def _says_something(text: str) -> bool:
    """False for a text made only of placeholders (``<fix>``, ``...``): the value is not in the source."""
    return bool(re.search(r"[A-Za-z]", re.sub(r"<[^>]*>|\.\.\.", "", text)))


def checks_page() -> str:
    from django_prodserver.errors import ConfigError

    found = check_ids()
    classes = backend_classes()
    default = ConfigError.DEFAULT_ID
    for name, cls in sorted(classes.items()):
        ns = cls.check_namespace
        if cls.kind == "web" and ns != "prodserver":
            entry = found.setdefault(f"{ns}.E001", CheckId(f"{ns}.E001", f"backend for {name}"))
            if not entry.messages:
                entry.messages.append(
                    f"an option under {name} is invalid or refused: its type, range, a combination, "
                    "or a contract option this server cannot honour (the message names the key)"
                )
                entry.fixes.append("the message says what to write instead; `--list-options` shows what is accepted")
    if default in found and not found[default].messages:
        found[default].messages.append(
            "a process entry is invalid: an unknown key or option, a wrong type or value, ARGS that cannot "
            "be parsed (the message names the exact key path)"
        )
        found[default].fixes.append("the message says what to write instead")
    out = [
        "# System checks",
        "",
        "`python manage.py check` runs these, and so does every start unless `--skip-checks`.",
        "Each message names the exact setting (`PRODUCTION_PROCESSES['web']['OPTIONS']['workers']`),",
        "what was found and what was expected; its HINT is the fix. Silence one with Django's",
        '`SILENCED_SYSTEM_CHECKS = ["prodserver_gunicorn.E001"]` only when you know why.',
        "",
        "This table is generated from the packages' source when the site is built. `<name>` stands",
        "for a value the real message fills in. `E` ids are errors (nothing starts), `W` ids warnings.",
        "",
        "| id | reported when | fix |",
        "|---|---|---|",
    ]
    for ident in sorted(found, key=_order):
        entry = found[ident]
        msgs = "<br>".join(_cell(_md(m)) for m in entry.messages) or "-"
        fixes = "<br>".join(_cell(_md(f)) for f in entry.fixes) or "-"
        out.append(f'| <span id="{_anchor(ident)}"></span>`{ident}` | {msgs} | {fixes} |')
    return "\n".join(out) + "\n"


def _order(ident: str) -> tuple[int, str]:
    return (0 if ident.startswith("prodserver.") else 1, ident)


def _anchor(ident: str) -> str:
    return ident.replace(".", "-").replace("_", "-").lower()


def _md(text: str) -> str:
    """Plain text safe in a Markdown table: angle brackets escaped, stray backticks balanced."""
    text = text.replace("<", "&lt;").replace(">", "&gt;").replace("{", "&#123;").replace("}", "&#125;")
    return text if text.count("`") % 2 == 0 else text.replace("`", "'")


# -- CLI ---------------------------------------------------------------------------------


def cli_page() -> str:
    _django()
    from django.core.management import load_command_class

    from django_prodserver.management import subcommands
    from django_prodserver.settings.config import SUBCOMMANDS

    out = [
        "# Command line",
        "",
        "The `--help` of each command, generated when this site is built. Django's own options",
        "(`--settings`, `--pythonpath`, `--traceback`, `--skip-checks`...) work on all of them.",
        "",
    ]
    commands = [
        ("prodserver", load_command_class("django_prodserver", "prodserver").create_parser("manage.py", "prodserver"))
    ]
    for word in sorted(SUBCOMMANDS):
        cmd = subcommands.load(word)
        commands.append((f"prodserver {word}", cmd.create_parser("manage.py prodserver", word)))
    for name in ("devserver", "server", "worker"):
        commands.append((name, load_command_class("django_prodserver", name).create_parser("manage.py", name)))
    for title, parser in commands:
        text = parser.format_help()
        out += [f"## `{title}`", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(out)


# -- hooks -------------------------------------------------------------------------------


def on_config(config: Any) -> Any:
    """A rebuild under ``mkdocs serve`` reads the backends afresh."""
    backend_classes.cache_clear()
    return config


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    docs = Path(config["docs_dir"])
    makers = {
        "reference/options.md": lambda: options_page(docs),
        "reference/checks.md": checks_page,
        "reference/cli.md": cli_page,
    }
    for uri in GENERATED:
        files.append(File.generated(config, uri, content=makers[uri]()))
    return files


def stop_signals_table() -> str:
    """Each backend's stop signal, where it is sent, and its drain and graceful defaults."""
    import signal

    from django_prodserver.describe import default_text

    rows = ["| backend | kind | stop signal | sent to | drain_delay | graceful_timeout |", "|---|---|---|---|---|---|"]
    for name, cls in sorted(backend_classes().items()):
        defaults = {o.name: default_text(o) for o in cls.declared_options()}
        rows.append(
            f"| {name} | {cls.kind} | {signal.Signals(cls.stop_signal).name} | "
            + ("the process group" if cls.signal_group else "the main process")
            + f" | {defaults.get('drain_delay', '-')} | {defaults.get('graceful_timeout', '-')} |"
        )
    return "\n".join(rows)


MARKERS = {"<!-- generated: stop-signals -->": stop_signals_table}


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """Backend pages show the option tables of the code being built, not a copy; a marker
    (:data:`MARKERS`) is replaced by its generated table."""
    for marker, make in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, make())
    uri = page.file.src_uri
    if uri.startswith("backends/"):
        from django_prodserver.describe import BEGIN, END, markdown_table

        classes = backend_classes()
        name = Path(uri).stem
        if BEGIN in markdown and END in markdown and name in classes:
            head, rest = markdown.split(BEGIN, 1)
            markdown = f"{head}{markdown_table(classes[name])}{rest.split(END, 1)[1]}"
    return markdown
