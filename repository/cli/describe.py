"""`kho describe`: show the Dublin Core record Kho would store for a bag."""
from __future__ import annotations

import json
from pathlib import Path

import click

from repository.config import load_settings
from repository.errors import Problem, UnsafeArchive, UsageError


def _read_bag_info(bag_root: Path) -> tuple[dict[str, list[str]], list[Problem]]:
    """bag-info.txt (package-info.txt before BagIt 0.96) as the validator reads it."""
    from repository.bagit.bag import decode_tag_file, nfc, parse_tags, read_bag_declaration
    _version, encoding, _declaration_problems = read_bag_declaration(bag_root)  # validate's job
    for name in ("bag-info.txt", "package-info.txt"):
        path = bag_root / name
        if path.is_file() and not path.is_symlink():
            text, problems = decode_tag_file(path.read_bytes(), encoding, name)
            if text is None:
                return {}, problems
            tags, tag_problems = parse_tags(text, name)
            bag_info: dict[str, list[str]] = {}
            for label, value in tags:
                bag_info.setdefault(nfc(label), []).append(nfc(value))
            return bag_info, problems + tag_problems
    return {}, []


@click.command(short_help="Print the Dublin Core record Kho would store.")
@click.argument("path", type=click.Path(path_type=str))
@click.option("--json", "as_json", is_flag=True,
              help="Print source, record, title, search text and problems as one JSON document.")
def describe(path: str, as_json: bool) -> None:
    """Print the Dublin Core record Kho would store for the bag at PATH (folder or archive).

    Read from metadata/dc.json, else metadata/dc.xml, else DC- fields in bag-info.txt
    (see docs/dublin-core.md); `null` when the bag has no description. Exit 1 if the
    description has problems (`error: CODE PATH: sentence` on stderr), 2 if PATH cannot be used.
    """
    from repository.ingest import unpacked
    from repository.metadata import (description_source, primary_title, read_dublin_core,
                                     search_text)
    if not Path(path).exists():
        raise UsageError(f"{path}: no such file or folder")
    try:
        with unpacked(Path(path), load_settings()) as bag_root:
            bag_info, problems = _read_bag_info(bag_root)
            source = description_source(bag_root, bag_info)
            record, dc_problems = read_dublin_core(bag_root, bag_info)
    except UnsafeArchive as exc:
        problems = [Problem(exc.code, exc.path, exc.message)]
        source, record, dc_problems = None, None, []
    problems = problems + dc_problems
    if as_json:
        document = {"path": path, "source": source, "record": record,
                    "title": primary_title(record) if record else None,
                    "search_text": search_text(record) if record else None,
                    "problems": [p.as_dict() | {"severity": p.severity} for p in problems]}
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        click.echo(json.dumps(record, ensure_ascii=False, indent=2))
    for problem in problems:
        click.echo(str(problem), err=True)
    if record is None and not problems:
        click.echo(f"note: {path} carries no Dublin Core description", err=True)
    raise SystemExit(1 if any(p.severity == "error" for p in problems) else 0)


COMMANDS = (describe,)
