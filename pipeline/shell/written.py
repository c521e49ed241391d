"""Shell: the emails already written to out/email/, read back by their manifests.

A folder is complete once its manifest.json exists (it is written last). The build
adopts the complete emails the ledger does not know (a build was killed before its
commit); `status` lists them; `preview` shows one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from pipeline.core.errors import PipelineError
from pipeline.core.manifest import EMAIL_FOLDER, Manifest, parse_manifest
from pipeline.shell.files import confined

logger = logging.getLogger(__name__)


def written_emails(out_dir: Path, newest_first: bool = False) -> Iterator[tuple[str, Manifest]]:
    """(email id, manifest) of every complete email folder; a manifest this version
    cannot read is skipped with a warning."""
    folder = out_dir / EMAIL_FOLDER
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*/manifest.json"), reverse=newest_first):
        try:
            manifest = parse_manifest(path.read_bytes())
        except (OSError, ValueError) as exc:
            logger.warning("%s: not a manifest this version wrote (%s); ignored", path, exc)
            continue
        yield path.parent.name, manifest


def unrecorded_emails(out_dir: Path, known: frozenset[str]) -> Iterator[Manifest]:
    """Complete emails on disk that the ledger does not know: written by a build that
    was killed before its commit."""
    for email_id, manifest in written_emails(out_dir):
        if email_id in known:
            continue
        if manifest.email_id != email_id:
            logger.warning("%s: its email_id does not match its folder; ignored", email_id)
            continue
        yield manifest


def read_email(out_dir: Path, email_id: str) -> tuple[Manifest, str, str]:
    """A written email's manifest, HTML and text; a PipelineError says why not."""
    folder = confined(out_dir, f"{EMAIL_FOLDER}/{email_id}")
    try:
        manifest = parse_manifest((folder / "manifest.json").read_bytes())
        html = (folder / "email.html").read_text(encoding="utf-8")
        text = (folder / "email.txt").read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        raise PipelineError(f"{folder}: cannot be read ({exc})") from None
    return manifest, html, text
