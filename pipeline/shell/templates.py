"""Shell: the email templates a site renders with, read from its folders.

The site's own `templates/email/` first, then the shipped templates; a file of the
site's replaces the shipped one of the same name. What is read is handed to the
core as text, so rendering never touches the disk.
"""

from __future__ import annotations

from pathlib import Path

from pipeline.core.emails import Templates
from pipeline.shell.paths import default_template_dirs


def template_dirs(template_dir: Path, kind: str = "email") -> list[Path]:
    """The folders that exist, in the order a name is looked up."""
    shipped = default_template_dirs(kind)
    return [folder for folder in (template_dir, *shipped) if folder.is_dir()]


def load_templates(template_dir: Path, kind: str = "email") -> Templates:
    """The templates of `kind`: "email", or "pages" (what `newsletter serve` shows;
    a site's own are in templates/pages/, beside its email templates)."""
    found: dict[str, str] = {}
    folders = template_dirs(template_dir, kind)
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            name = path.relative_to(folder).as_posix()
            if name in found or name.startswith(".") or "/." in name or not path.is_file():
                continue
            try:
                found[name] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue  # not a template; naming it is left to the render that needs it
    return Templates(tuple(sorted(found.items())), tuple(str(folder) for folder in folders), kind)
