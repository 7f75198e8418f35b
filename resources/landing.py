"""Landing zones and archives as a Dagster resource: one interface, two storages (DESIGN.md §5).

``FACTORY_LANDING_URL`` / ``FACTORY_ARCHIVE_URL`` pick the storage: ``file:///abs/path`` is a
local folder (:mod:`resources.local_zone`), ``sftp://user@host:port/abs/path`` a folder on an SFTP
server (:mod:`resources.sftp`). Both implement :class:`resources.zone.LandingZone`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dagster import ConfigurableResource
from pydantic import Field

from resources import settings
from resources.local_zone import LocalLandingZone
from resources.sftp import SftpLandingZone
from resources.zone import FileEntry, LandingZone, LandingZoneError, NotARegularFile

__all__ = [
    "FileEntry",
    "LandingZone",
    "LandingZoneError",
    "LandingZoneResource",
    "LocalLandingZone",
    "NotARegularFile",
    "landing_zone",
    "open_landing_zone",
]


def open_landing_zone(
    url: str,
    *,
    key_file: str | None = None,
    password: str | None = None,
    known_hosts: str | None = None,
    timeout_s: float = 10.0,
) -> LandingZone:
    """Open a landing zone from its URL (``file:///…`` or ``sftp://user@host:port/path``)."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return LocalLandingZone(Path(unquote(parts.path)))
    if parts.scheme == "sftp":
        return SftpLandingZone.connect(
            url, key_file=key_file, password=password, known_hosts=known_hosts, timeout_s=timeout_s
        )
    raise ValueError(
        f"unsupported landing-zone URL scheme {parts.scheme!r} in {settings.redact_url(url)!r} "
        "(use file:///abs/path or sftp://user@host:port/abs/path)"
    )


@contextlib.contextmanager
def landing_zone(url: str, **kwargs) -> Iterator[LandingZone]:
    zone = open_landing_zone(url, **kwargs)
    try:
        yield zone
    finally:
        zone.close()


class LandingZoneResource(ConfigurableResource):
    """A landing zone or archive, from ``FACTORY_LANDING_URL`` / ``FACTORY_ARCHIVE_URL``.

    ``url`` unset = the local default below ``FACTORY_HOME`` for the given ``role``. SFTP
    credentials come from ``FACTORY_SFTP_*`` (injected as ``EnvVar`` so they never show in the UI).
    """

    role: str = Field(default="landing", description="'landing' or 'archive': picks the default URL")
    url: str | None = Field(default=None, description="file:///abs/path or sftp://user@host:port/path")
    sftp_key_file: str | None = None
    sftp_password: str | None = None
    sftp_known_hosts: str | None = None
    timeout_s: float = 10.0

    def resolved_url(self) -> str:
        if self.url:
            return self.url
        return settings.archive_url() if self.role == "archive" else settings.landing_url()

    def display_url(self) -> str:
        return settings.redact_url(self.resolved_url())

    @contextlib.contextmanager
    def open(self) -> Iterator[LandingZone]:
        with landing_zone(
            self.resolved_url(),
            key_file=self.sftp_key_file,
            password=self.sftp_password,
            known_hosts=self.sftp_known_hosts,
            timeout_s=self.timeout_s,
        ) as zone:
            yield zone
