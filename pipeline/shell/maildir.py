"""Shell: the Maildir transport, for trying `send` without a relay.

The same messages, under the same outbox rules, go into a Maildir folder that
mutt or any mail client opens. Chosen explicitly (`[send] transport = "maildir"`),
never a fallback for a missing `[smtp]`.
"""

from __future__ import annotations

import mailbox
from pathlib import Path

from pipeline.shell.smtp import Guard, Outcome


class MaildirBox:
    def __init__(self, folder: Path) -> None:
        self.box = mailbox.Maildir(folder, create=True)

    def deliver(
        self, sender: str, recipient: str, data: bytes, guard: Guard | None = None
    ) -> Outcome:
        keys: list[str] = []
        try:
            if guard is None:
                keys.append(self.box.add(data))
            elif not guard(recipient, lambda: keys.append(self.box.add(data))):
                return Outcome("skipped", "unsubscribed while the message was on its way")
            key = keys[0]
        except OSError as exc:
            return Outcome("deferred", f"cannot write to the Maildir: {exc.strerror or exc}")
        return Outcome("sent", f"250 stored as {key}")

    def close(self) -> None:
        self.box.close()
