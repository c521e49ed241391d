"""Shell: `newsletter check` gathers the posts, the configuration and out/, and
runs the checks; it writes nothing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.core.checks import check_outputs, config_findings, secret_findings
from pipeline.core.errors import ConfigError
from pipeline.core.migration import MigrationReport, migration_report
from pipeline.core.model import Finding
from pipeline.core.settings import CONFIG_NAME, parse_config
from pipeline.core.unsubscribe import unsubscribe_case
from pipeline.shell import check_posts as posts
from pipeline.shell.old_site import OldSite
from pipeline.shell.scan import find_posts
from pipeline.shell.site import Site, read_config_file, site_of


@dataclass
class CheckReport:
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the author should know, no problem
    posts_checked: int = 0
    posts_read: int = 0  # of them, read and linted again (the rest were as last checked)
    outputs_checked: int = 0

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    def exit_code(self, strict: bool) -> int:
        return 1 if self.errors or (strict and self.findings) else 0

    def summary(self) -> dict[str, object]:
        return {
            "posts_checked": self.posts_checked,
            "posts_read": self.posts_read,
            "outputs_checked": self.outputs_checked,
            "errors": len(self.errors),
            "warnings": len(self.findings) - len(self.errors),
            "findings": [f.as_dict() for f in self.findings],
            "notes": self.notes,
        }


def load_for_check(
    folder: Path, config_path: Path | None, report: CheckReport, overrides: dict[str, Path | None]
) -> Site | None:
    """The configuration; its problems become findings. Posts are still checked
    when only the email settings are missing."""
    path = config_path or folder / CONFIG_NAME
    raw = read_config_file(path)
    try:
        return site_of(parse_config(raw, str(path)), folder, overrides, path)
    except ConfigError as error:
        report.findings.extend(config_findings(error.message, str(path)))
    try:
        lenient = {**raw, "email": {**raw.get("email", {}), "enabled": False}}
        return site_of(parse_config(lenient, str(path)), folder, overrides, path)
    except ConfigError:
        return None


def read_posts(site: Site, report: CheckReport) -> list[tuple[str, bytes]]:
    """Every post file's bytes; one that cannot be read is a finding."""
    files = []
    for entry in find_posts(site.content_dir):
        source = entry.relative
        try:
            files.append((source, Path(entry.path).read_bytes()))
        except OSError as exc:
            report.findings.append(
                Finding("unreadable", source, f"cannot be read: {exc.strerror}", severity="error")
            )
    return files


def migration(site: Site) -> MigrationReport:
    """`check --migrating`: what moving this archive would give."""
    files = read_posts(site, CheckReport())
    return migration_report(files, site.config, lambda posts: OldSite(site, posts))


def run_check(site: Site, report: CheckReport, environ: Mapping[str, str]) -> CheckReport:
    checked = posts.check_files(site)
    report.findings.extend(checked.findings)
    report.posts_checked, report.posts_read = checked.files, checked.read
    out = site.out_dir
    outputs = (
        {
            p.relative_to(out).as_posix(): p.read_bytes()
            for p in sorted(out.rglob("*"))
            if p.is_file()
        }
        if out.is_dir()
        else {}
    )
    report.findings.extend(check_outputs(outputs, site.config))
    report.outputs_checked = len(outputs)
    if site.config.email.enabled:
        report.notes.append(unsubscribe_case(site.config))
        report.findings.extend(secret_findings(site.config, environ, str(site.config_file)))
    return report
