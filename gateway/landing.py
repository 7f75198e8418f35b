"""The gateway's connection to the landing zone: one open zone, reused, reopened after a failure.

For a local folder opening is free; for SFTP it saves an SSH handshake per request. paramiko's
SFTP client is not safe for concurrent use, so writes through one connection take turns (a lock);
a write is a few milliseconds, far below the time an HTTP client waits anyway.
"""

from __future__ import annotations

import contextlib
import logging
import threading

from resources import settings as platform
from resources.zone import LandingZone, LandingZoneError

log = logging.getLogger("gateway")


class LandingUnavailable(RuntimeError):
    """The landing zone cannot be reached or written; nothing was written."""


class ZoneHolder:
    def __init__(self, resource):
        self._resource = resource
        self._lock = threading.Lock()
        self._stack: contextlib.ExitStack | None = None
        self._zone: LandingZone | None = None

    @property
    def display_url(self) -> str:
        return self._resource.display_url()

    def _open(self) -> LandingZone:
        if self._zone is None:
            stack = contextlib.ExitStack()
            try:
                self._zone = stack.enter_context(self._resource.open())
            except BaseException:
                stack.close()
                raise
            self._stack = stack
        return self._zone

    def _drop(self) -> None:
        if self._stack is not None:
            with contextlib.suppress(Exception):
                self._stack.close()
        self._stack, self._zone = None, None

    def run(self, action):
        """``action(zone)`` on the open zone; one reconnect after a failure, then
        :class:`LandingUnavailable` (message without secrets)."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    return action(self._open())
                except (LandingZoneError, OSError, EOFError) as exc:
                    self._drop()
                    if attempt == 2 or isinstance(exc, PermissionError):
                        message = platform.redact_text(str(exc) or type(exc).__name__)
                        log.error("landing zone %s unavailable: %s", self.display_url, message)
                        raise LandingUnavailable(message) from None

    def write(self, path: str, data: bytes) -> None:
        """Atomic write (temporary ``.name.part``, then rename): a reader never sees half a drop."""
        self.run(lambda zone: zone.write_bytes(path, data))

    def check(self, prefix: str) -> bool:
        self.run(lambda zone: zone.exists(prefix))
        return True

    def close(self) -> None:
        with self._lock:
            self._drop()
