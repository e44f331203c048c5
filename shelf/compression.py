"""Compact entries: zstd with a dictionary trained on sibling entries.

Rendered pages of one template share most of their bytes, and a dictionary trained on a few
hundred of them lets each page be stored as little more than what makes it different (about
17x smaller for a product page, against 4x for zlib alone; numbers in docs/benchmarks.md).

A namespace names its `Dictionary`; the dictionary's id is part of the namespace's keys, so a
process with another dictionary (a new one trained and deployed) reads and writes other keys
and never misreads an entry, and is also in the entry's header, so that whoever decodes an
entry knows which dictionary it needs. `manage.py train_dictionaries` trains each dictionary
from the entries on the shelf and writes its file; a missing file means uncompressed entries.

Each app ships its dictionaries, trained on the demo catalog. A shop trains its own from its
own pages into SHELF_DICTIONARY_DIR (as `<app>-<name>.zdict`), which processes started with
that setting read instead: pages of one category share their related products' cards and most
of their words, which a dictionary trained on another catalog cannot know.
"""

from __future__ import annotations

import logging
import threading
from functools import cached_property
from pathlib import Path

import zstandard
from django.conf import settings

logger = logging.getLogger(__name__)

# Every dictionary declared by an app, by path: the training command and the decoder find them.
DICTIONARIES: dict[Path, Dictionary] = {}
# zstd's default, for entries that share mostly markup (a namespace may ask for more).
TRAINED_SIZE = 112_640


class Dictionary:
    """A zstd dictionary, shipped at `path` (trained by `manage.py train_dictionaries`).

    Values shorter than `min_bytes` are stored as they are: a few hundred bytes of JSON gain
    less than the header costs to say they are compressed. zstd's level 3 compresses a page in
    about 30 µs on a miss; higher levels save a few percent more for 5 to 200 times the time.
    """

    def __init__(
        self, path: Path, *, level: int = 3, min_bytes: int = 512, size: int = TRAINED_SIZE
    ) -> None:
        self.shipped = Path(path)
        self.level = level
        self.min_bytes = min_bytes
        self.size = size  # what `manage.py train_dictionaries` makes it
        self._local = threading.local()  # zstd (de)compressor objects are one per thread
        DICTIONARIES[self.shipped] = self

    @property
    def own(self) -> Path:
        """Where `train_dictionaries` writes this dictionary: under SHELF_DICTIONARY_DIR if
        set, else over the shipped file (a developer retraining the demo's)."""
        if not settings.SHELF_DICTIONARY_DIR:
            return self.shipped
        name = f"{self.shipped.parent.name}-{self.shipped.name}"  # catalog-pages.zdict
        return Path(settings.SHELF_DICTIONARY_DIR) / name

    @property
    def path(self) -> Path:
        """Where this process reads the dictionary: the shop's own once trained, else the
        shipped one."""
        own = self.own
        return own if own.exists() else self.shipped

    @cached_property
    def _data(self) -> zstandard.ZstdCompressionDict | None:
        try:
            data = zstandard.ZstdCompressionDict(self.path.read_bytes())
        except OSError:
            logger.warning("shelf dictionary missing, entries stored uncompressed: %s", self.path)
            return None
        data.precompute_compress(level=self.level)
        return data

    @cached_property
    def id(self) -> int:
        """The dictionary's own id (0: no dictionary, entries are stored uncompressed)."""
        return self._data.dict_id() if self._data is not None else 0

    def _coders(self) -> tuple[zstandard.ZstdCompressor, zstandard.ZstdDecompressor]:
        coders = getattr(self._local, "coders", None)
        if coders is None:
            coders = (
                zstandard.ZstdCompressor(dict_data=self._data, write_content_size=True),
                zstandard.ZstdDecompressor(dict_data=self._data),
            )
            self._local.coders = coders
        return coders

    def compress(self, body: bytes) -> bytes | None:
        """`body` compressed, or None where it is stored as it is."""
        if self._data is None or len(body) < self.min_bytes:
            return None
        return self._coders()[0].compress(body)

    def decompress(self, data: bytes) -> bytes:
        return self._coders()[1].decompress(data)


def decompress(dict_id: int, data: bytes) -> bytes | None:
    """An entry's value compressed with dictionary `dict_id`; None if this process does not
    have that dictionary or the bytes are not what it wrote (read as a miss)."""
    for dictionary in DICTIONARIES.values():
        if dictionary.id == dict_id:
            try:
                return dictionary.decompress(data)
            except zstandard.ZstdError:
                return None
    return None


def train(samples: list[bytes], size: int = TRAINED_SIZE) -> bytes:
    """A dictionary trained on `samples` (the stored bodies of sibling entries)."""
    return zstandard.train_dictionary(size, samples).as_bytes()
