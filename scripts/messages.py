#!/usr/bin/env python3
"""Extract, update, compile and check the message catalogues of the server and the student CLI.

    python scripts/messages.py update    # extract from the code, merge into every .po, compile the .mo files
    python scripts/messages.py compile   # compile every .po into its .mo
    python scripts/messages.py check     # exit 1 if a catalogue is stale, incomplete or broken

``make messages`` runs ``update``. The .po files are the sources and the
compiled .mo files are committed beside them, so an installed package needs
no build step. ``check`` (run by tests/test_messages.py) fails when a .mo no
longer matches its .po. See docs/pages.md.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Jinja2 options that match server/templating.py, so {% trans %} blocks are read as the pages render them.
JINJA_OPTIONS = {"trim_blocks": "true", "lstrip_blocks": "true", "extensions": "jinja2.ext.i18n"}
JINJA = "jinja2.ext:babel_extract"
LOCALES = ("ko",)
"""Languages besides English; ``update`` starts a catalogue for any that has none."""


def _server_texts() -> Iterator[tuple[str, str]]:
    """Yield English sentences that are data rather than literals in a call, with where they come from."""
    from grader.feedback import MESSAGES
    from grader.verdicts import DESCRIPTIONS
    from reference.labs import LABS

    for kind, message in MESSAGES.items():
        yield message, f"grader/feedback.py MESSAGES[{kind!r}]"
    for verdict, description in DESCRIPTIONS.items():
        yield description, f"grader/verdicts.py DESCRIPTIONS[{verdict.value!r}]"
    for lab in LABS.values():
        yield lab.title, f"reference/labs.py {lab.lab_id} title"
    # The kinds that reference.objective.SeparablePolynomial.critical_points assigns.
    for kind in ("global minimum", "local minimum", "local maximum", "saddle point"):
        yield kind, "reference/objective.py CriticalPoint.kind"


@dataclass(frozen=True)
class Source:
    """One catalogue: where its code is, how to extract from it, and where its translations live."""

    name: str
    code_dir: Path
    method_map: list[tuple[str, str]]
    keywords: dict[str, tuple[int, ...] | None]
    locale_dir: Path
    domain: str
    extra: Callable[[], Iterator[tuple[str, str]]] | None = None

    def po_files(self) -> list[Path]:
        return sorted(self.locale_dir.glob(f"*/LC_MESSAGES/{self.domain}.po"))

    def po_file(self, locale: str) -> Path:
        return self.locale_dir / locale / "LC_MESSAGES" / f"{self.domain}.po"


SOURCES = (
    Source(
        name="server",
        code_dir=ROOT / "server",
        method_map=[("**.py", "python"), ("templates/**.html", JINJA), ("templates/**.svg", JINJA)],
        keywords={"_": None, "gettext": None, "ngettext": (1, 2), "translatable": None},
        locale_dir=ROOT / "server" / "locale",
        domain="messages",
        extra=_server_texts,
    ),
    Source(
        name="client",
        code_dir=ROOT / "client",
        method_map=[("**.py", "python")],
        keywords={"_": None},
        locale_dir=ROOT / "client" / "locale",
        domain="gradedescent",
    ),
)


def extract(source: Source) -> Catalog:
    """Return a template catalogue of every message in the source's code."""
    template = Catalog(project="gradedescent", fuzzy=False)
    options = {pattern: JINJA_OPTIONS for pattern, method in source.method_map if method == JINJA}
    found = extract_from_dir(
        source.code_dir,
        source.method_map,
        options,
        source.keywords,
        strip_comment_tags=True,  # type: ignore[arg-type]
    )
    for filename, lineno, message, comments, context in found:
        location = (str((source.code_dir / filename).relative_to(ROOT)), lineno)
        template.add(message, None, [location], auto_comments=comments, context=context)
    for message, origin in source.extra() if source.extra else ():
        template.add(message, None, [(origin, 0)])
    return template


def read(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_po(file)


def compiled(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def update() -> None:
    for source in SOURCES:
        template = extract(source)
        for locale in LOCALES:
            po_path = source.po_file(locale)
            if po_path.exists():
                catalog = read(po_path)
            else:
                po_path.parent.mkdir(parents=True, exist_ok=True)
                catalog = Catalog(
                    locale=locale,
                    domain=source.domain,
                    project="gradedescent",
                    header_comment=f"# {locale} messages of gradedescent. Update with `make messages`; see docs/pages.md.",
                    fuzzy=False,
                )
            catalog.update(template, no_fuzzy_matching=True)
            # Dropped messages are removed, not kept as obsolete entries, so the .po holds only live text.
            catalog.obsolete.clear()
            with po_path.open("wb") as file:
                write_po(file, catalog, width=100, omit_header=False, sort_output=False)
            print(f"updated {po_path.relative_to(ROOT)}: {len(catalog)} messages")
    compile_all()


def compile_all() -> None:
    for source in SOURCES:
        for po_path in source.po_files():
            po_path.with_suffix(".mo").write_bytes(compiled(read(po_path)))
            print(f"compiled {po_path.with_suffix('.mo').relative_to(ROOT)}")


def problems() -> list[str]:
    """Return every reason the catalogues are not ready, one sentence each."""
    found = []
    for source in SOURCES:
        template = extract(source)
        wanted = {message.id for message in template if message.id}
        po_files = source.po_files()
        if not po_files:
            found.append(f"{source.name}: no .po file under {source.locale_dir.relative_to(ROOT)}")
        for po_path in po_files:
            name = po_path.relative_to(ROOT)
            catalog = read(po_path)
            have = {message.id for message in catalog if message.id}
            for missing in sorted(wanted - have, key=str):
                found.append(f"{name}: {missing!r} is missing: run 'make messages' and translate it")
            for stale in sorted(have - wanted, key=str):
                found.append(f"{name}: {stale!r} is no longer in the code: run 'make messages'")
            for message in catalog:
                if not message.id or message.id not in wanted:
                    continue
                texts = message.string if isinstance(message.string, tuple) else (message.string,)
                sources = message.id if isinstance(message.id, tuple) else (message.id,)
                if message.fuzzy or not all(texts):
                    found.append(f"{name}: {message.id!r} has no finished translation")
                    continue
                if _fields(str(sources[0])) != _fields(str(texts[0])):
                    found.append(
                        f"{name}: the translation of {message.id!r} has other placeholders than the source"
                    )
            mo_path = po_path.with_suffix(".mo")
            if not mo_path.exists():
                found.append(
                    f"{mo_path.relative_to(ROOT)} is missing: run 'python scripts/messages.py compile'"
                )
            elif _entries(mo_path.read_bytes()) != _entries(compiled(catalog)):
                found.append(
                    f"{mo_path.relative_to(ROOT)} does not match its .po: run 'python scripts/messages.py compile'"
                )
    return found


def _fields(text: str) -> tuple[set[str], set[str]]:
    """Return a message's ``str.format`` fields and its ``%(name)s`` fields (Jinja2 and gettext style)."""
    from server.i18n import placeholders

    try:
        formatted = placeholders(text)
    except ValueError:
        formatted = {"<a brace that str.format cannot parse>"}
    return formatted, set(re.findall(r"%\((\w+)\)", text))


def _entries(mo: bytes) -> dict[object, object]:
    return {message.id: message.string for message in read_mo(io.BytesIO(mo)) if message.id}


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    if command == "update":
        update()
    elif command == "compile":
        compile_all()
    elif command == "check":
        found = problems()
        for problem in found:
            print(problem, file=sys.stderr)
        return 1 if found else 0
    else:
        print(f"usage: {argv[0]} update|compile|check (got {command!r})", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
