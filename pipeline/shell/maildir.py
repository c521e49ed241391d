"""Shell: the Maildir transport, for trying `send` without a relay.

The same messages, under the same outbox rules, go into a Maildir folder that
mutt or any mail client opens. Chosen explicitly (`[send] transport = "maildir"`),
never a fallback for a missing `[smtp]`.
"""

from __future__ import annotations

import mailbox
from pathlib import Path

from pipeline.shell.smtp import Outcome


class MaildirBox:
    def __init__(self, folder: Path) -> None:
        self.box = mailbox.Maildir(folder, create=True)

    def deliver(self, sender: str, recipient: str, data: bytes) -> Outcome:
        try:
            key = self.box.add(data)
        except OSError as exc:
            return Outcome("deferred", f"cannot write to the Maildir: {exc.strerror or exc}")
        return Outcome("sent", f"250 stored as {key}")

    def close(self) -> None:
        self.box.close()
