"""A chat in the terminal that runs the very same handlers: try the bot with no token.

Buttons become numbered options; typing the number presses the button. Only translation lives here.
"""
from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import TextIO

from core.channel import Capabilities, fallback_options, fallback_text
from core.render import to_plain
from core.types import Button, Incoming, Reply

Handle = Callable[[Incoming], Awaitable[list[Reply]]]
QUIT_WORDS = {"/quit", "/exit", "/thoat"}


class ConsoleChannel:
    channel = "console"
    capabilities = Capabilities(text_limit=1_000_000, markup="plain", max_buttons=0)  # every choice is numbered

    def __init__(self, handle: Handle, *, farewell: str = "", user_id: str = "console", display_name: str = "",
                 stdin: TextIO | None = None, stdout: TextIO | None = None) -> None:
        self.handle = handle
        self.farewell = farewell  # said on /quit; from the pack's templates (smalltalk/goodbye)
        self.user_id = user_id
        self.display_name = display_name
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self._options: list[Button] = []

    def render(self, replies: Sequence[Reply]) -> str:
        """Replies as plain text, remembering the numbered options for the next input."""
        blocks: list[str] = []
        options: list[Button] = []
        for reply in replies:
            if reply.notice and not (reply.text or reply.buttons or reply.contact):
                blocks.append(f"({reply.notice})")
                continue
            blocks.append(to_plain(fallback_text(reply)))
            if reply.buttons:
                options = fallback_options(reply)
        if options:
            self._options = options
        return "\n\n".join(b for b in blocks if b)

    def to_incoming(self, line: str) -> Incoming:
        text = line.strip()
        if text.isdigit() and 1 <= int(text) <= len(self._options):
            return Incoming(channel=self.channel, user_id=self.user_id, display_name=self.display_name,
                            payload=self._options[int(text) - 1].payload)
        return Incoming(channel=self.channel, user_id=self.user_id, display_name=self.display_name, text=text)

    async def send(
        self, user_id: str, replies: Sequence[Reply], *, retry: bool = True, paid_broadcast: bool = False,
        reply_to: str = "",
    ) -> None:
        """Proactive messages (an official's answer, a bulletin) printed as they arrive."""
        if user_id == self.user_id:
            self._write(self.render(replies))

    def _write(self, text: str) -> None:
        self.stdout.write(f"\n{text}\n\n> ")
        self.stdout.flush()

    async def run(self) -> None:
        """Read lines until EOF or /quit; start with /start like a new chat would."""
        loop = asyncio.get_running_loop()
        self._write(self.render(await self.handle(self.to_incoming("/start"))))
        while True:
            line = await loop.run_in_executor(None, self.stdin.readline)
            if not line or line.strip().lower() in QUIT_WORDS:
                self.stdout.write(f"\n{to_plain(self.farewell)}\n" if self.farewell else "\n")
                return
            if not line.strip():
                self._write("")
                continue
            self._write(self.render(await self.handle(self.to_incoming(line))))
