"""Pseudonyms of personal data (DESIGN.md §4, §6.7): HMAC-SHA256 keyed by ``FACTORY_PII_KEY``.

* The key comes from the environment only. In demo mode (no warehouse URL) it is generated once
  into ``$FACTORY_HOME/pii.key`` (mode 0600) and reused; otherwise it is required and a missing
  key is a clear error naming the variable. The key is never logged, never put in SQL text, asset
  metadata or dbt: pseudonyms are computed here, in Python, when rows are loaded.
* ``pseudonym(kind, value)`` = hex HMAC-SHA256 of ``"<kind>:<value>"``: the kind separates the
  domains (a customer id and a technician name never share a pseudonym). The same key gives the
  same pseudonym in every file and run, so marts can join and count on it; changing the key
  changes every pseudonym (re-load the files, see docs/logistics.md).
* Customers are pseudonymised by their id (``customer:<id>``, canonical decimal); technicians by
  their name, upper-cased with spaces collapsed (``technician:JOSE DA SILVA``), so
  ``José  da Silva`` and ``JOSÉ DA SILVA`` are one technician.
* Erasure: a customer erased by the ``erase_customer`` job must not come back when a file is
  loaded again. The job records, instead of anything of the customer, a *suppression
  fingerprint* (``erased-customer:<id>``, a different HMAC domain than the pseudonym, so the
  erased customer's pseudonym itself appears nowhere) and a 12-bit keyed bucket of the id. A
  loader finds candidate rows with the bucket (vectorised, a multiply-shift hash of the id keyed
  by the same key: no per-row HMAC) and confirms them with the fingerprint.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from resources import settings

KEY_VARIABLE = "FACTORY_PII_KEY"
MIN_KEY_LENGTH = 16
BUCKET_BITS = 12


class PiiKeyMissing(RuntimeError):
    """``FACTORY_PII_KEY`` is not set outside demo mode (or is too short)."""


def key_file() -> Path:
    return settings.factory_home() / "pii.key"


def _demo_key() -> bytes:
    path = key_file()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process wrote it first
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32))
    return path.read_text().strip().encode()


def pii_key() -> bytes:
    """The pseudonymisation key: ``FACTORY_PII_KEY``; in demo mode generated once into FACTORY_HOME."""
    value = os.environ.get(KEY_VARIABLE)
    if value:
        if len(value) < MIN_KEY_LENGTH:
            raise PiiKeyMissing(
                f"{KEY_VARIABLE} is too short: use at least {MIN_KEY_LENGTH} random characters "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
            )
        return value.encode()
    if settings.demo_mode():
        return _demo_key()
    raise PiiKeyMissing(
        f"{KEY_VARIABLE} is not set: personal data (customer name, email, phone; technician names) is "
        "pseudonymised with HMAC-SHA256 keyed by it, and outside demo mode it must be configured "
        "(a secret of at least 16 random characters, the same for every run and process)"
    )


def normalise_technician(name: str) -> str:
    return " ".join(name.split()).upper()


class Pseudonymiser:
    """HMAC-SHA256 pseudonyms with the key's inner and outer states computed once (fast per value)."""

    def __init__(self, key: bytes):
        block = 64
        if len(key) > block:
            key = hashlib.sha256(key).digest()
        key = key.ljust(block, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))
        mix = hmac.digest(key, b"bucket-multiplier", "sha256")
        self.bucket_multiplier = int.from_bytes(mix[:8], "big") | 1  # odd 64-bit multiplier

    def digest(self, message: bytes) -> str:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def pseudonym(self, kind: str, value: str) -> str:
        return self.digest(f"{kind}:{value}".encode())

    def customer(self, customer_id: int) -> str:
        return self.digest(b"customer:%d" % customer_id)

    def customers(self, ids: Iterable[int]) -> list[str]:
        inner0, outer0 = self._inner, self._outer
        out = []
        append = out.append
        for cid in ids:
            inner = inner0.copy()
            inner.update(b"customer:%d" % cid)
            outer = outer0.copy()
            outer.update(inner.digest())
            append(outer.hexdigest())
        return out

    def technician(self, name: str) -> str:
        return self.pseudonym("technician", normalise_technician(name))

    # --- erasure ------------------------------------------------------------------------------

    def erased_fingerprint(self, customer_id: int) -> str:
        return self.digest(b"erased-customer:%d" % customer_id)

    def bucket(self, customer_id: int) -> int:
        return ((customer_id * self.bucket_multiplier) & 0xFFFFFFFFFFFFFFFF) >> (64 - BUCKET_BITS)

    def buckets(self, ids):
        """Vectorised :meth:`bucket` of a numpy int64 array."""
        import numpy as np

        with np.errstate(over="ignore"):
            return (ids.astype(np.uint64) * np.uint64(self.bucket_multiplier)) >> np.uint64(64 - BUCKET_BITS)


def pseudonymiser() -> Pseudonymiser:
    return Pseudonymiser(pii_key())
