"""When a circuit breaker last opened, shared by every process of this host that uses the server.

A hung server hangs for every process of the host at once, so a breaker that opens in one
gunicorn or Celery worker should open in the others before they each wait out a timeout of
their own. Each breaker keeps its state in a one-page file under SHELF_BREAKER_DIR, mapped
into every process (mmap, MAP_SHARED): reading it is a memory read (about 0.1 us), with no
system call, no lock and no round trip, on the path of every cache read. Never in Redis: Redis
may be the server that hangs.

The file holds one number: the CLOCK_MONOTONIC time (the same clock in every process of a
host) at which the breaker last opened, or 0.0 while it is closed. Its name is the breaker's
and a hash of the server's address (which may hold a password): processes using the same
server share it, a test's throwaway server gets its own. An 8-byte aligned store is one
machine write, so a reader sees the old number or the new one, never a mix; two processes
writing at once just leave one of two times that are both correct.
"""

from __future__ import annotations

import hashlib
import logging
import mmap
import os
import weakref
from collections.abc import Callable
from pathlib import Path

from django.conf import settings
from django.core.signals import setting_changed

logger = logging.getLogger("shelf")

_SIZE = mmap.PAGESIZE
# Every flag, to find its file again when a test changes the settings that name it.
_FLAGS: weakref.WeakSet[HostFlag] = weakref.WeakSet()


class HostFlag:
    """The host-wide "opened at" of breaker `name` for the server `address()` names."""

    def __init__(self, name: str, address: Callable[[], object]) -> None:
        self.name = name
        self._address = address
        self._views: dict[object, memoryview] = {}
        # The current server's: found once, not at every read (a settings lookup costs more
        # than the read itself); forgotten when the settings change.
        self._current: memoryview | None = None
        _FLAGS.add(self)

    def _view(self) -> memoryview:
        view = self._current
        if view is None:
            address = self._address()
            view = self._views.get(address)
            if view is None:
                view = self._views[address] = self._map(address)
            self._current = view
        return view

    def forget(self) -> None:
        """Look the server's address up again at the next read."""
        self._current = None

    def _map(self, address: object) -> memoryview:
        folder = settings.SHELF_BREAKER_DIR
        if folder:
            digest = hashlib.sha256(f"{self.name}|{address}".encode()).hexdigest()[:16]
            path = Path(folder) / f"{self.name}-{digest}"
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    if os.fstat(fd).st_size < _SIZE:
                        os.ftruncate(fd, _SIZE)  # zeros: closed
                    return memoryview(mmap.mmap(fd, _SIZE)).cast("d")
                finally:
                    os.close(fd)  # the mapping stays
            except OSError as exc:
                logger.warning(
                    "%s breaker not shared with the host's other processes",
                    self.name,
                    extra={"breaker": self.name, "error": str(exc)},
                )
        return memoryview(bytearray(8)).cast("d")  # this process alone

    def opened_at(self) -> float:
        """When the breaker opened (time.monotonic()), or 0.0 if it is closed."""
        view = self._current  # inline of _view(): this runs on every cache read
        return (view if view is not None else self._view())[0]

    def open(self, at: float) -> None:
        self._view()[0] = at

    def close(self) -> None:
        view = self._view()
        if view[0]:
            view[0] = 0.0


def _settings_changed(setting: str, **kwargs) -> None:
    if setting in {"CACHES", "DATABASES", "SHELF_BREAKER_DIR"}:
        for flag in list(_FLAGS):
            flag.forget()


setting_changed.connect(_settings_changed, dispatch_uid="shelf.hostflag")
