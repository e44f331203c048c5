"""Train the shelf's zstd dictionaries from the entries on the shelf, and write their files."""

import random

from django.core.management.base import BaseCommand, CommandError, CommandParser

from shelf import backend
from shelf.compression import DICTIONARIES, train
from shelf.core import NAMESPACES, entry_bytes, entry_envelope


class Command(BaseCommand):
    help = (
        "Train each namespace dictionary (shelf.compression) on entries now on the shelf (run "
        "warm_cache first) and write its file. A new dictionary has a new id, so entries "
        "written with the old one are not read by processes started after the deploy: they "
        "load those again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--samples", type=int, default=2000, help="entries per namespace (default 2000)"
        )

    def handle(self, *args, samples: int, **options) -> None:
        r = backend.client()
        # Every sample is read before any file is written: an entry compressed with a
        # dictionary that was just replaced can no longer be read.
        learn = {
            dictionary: [body for ns in NAMESPACES.values() if ns.dictionary is dictionary
                         for body in _bodies(r, ns.name, samples)]
            for dictionary in DICTIONARIES.values()
        }  # fmt: skip
        unlearned = []
        for dictionary, bodies in learn.items():
            if len(bodies) < 20:
                unlearned.append(f"{dictionary.own} ({len(bodies)} entries)")
                continue
            random.Random(0).shuffle(bodies)
            held_out = bodies[: len(bodies) // 10]
            data = train(bodies[len(held_out) :], dictionary.size)
            dictionary.own.parent.mkdir(parents=True, exist_ok=True)
            dictionary.own.write_bytes(data)
            for cached in ("_data", "id"):
                dictionary.__dict__.pop(cached, None)
            plain = sum(map(len, held_out))
            packed = sum(len(dictionary.compress(b) or b) for b in held_out)
            self.stdout.write(
                f"{dictionary.path}: {len(data):,} B, id {dictionary.id}, trained on "
                f"{len(bodies) - len(held_out)} entries; {len(held_out)} others shrink "
                f"{plain / max(1, packed):.1f}x (from {plain // max(1, len(held_out)):,} B)"
            )
        if unlearned:
            # The others are written: a shop whose searches are not on the shelf yet still
            # gets its pages' dictionaries.
            message = (
                "too few entries on the shelf to learn from, dictionary left as it was: "
                f"{', '.join(unlearned)}; run manage.py warm_cache (and let shoppers search) first"
            )
            if len(unlearned) == len(learn):
                raise CommandError(message)
            self.stderr.write(message)


def _bodies(r, name: str, limit: int) -> list[bytes]:
    """The stored bodies (uncompressed) of up to `limit` entries of namespace `name`."""
    found = []
    for key in r.scan_iter(match=f"{name}:*", count=1000):
        envelope = entry_envelope(r.get(key))
        if envelope is not None and envelope["d"] is not None:
            found.append(entry_bytes({"d": envelope["d"]}).partition(b"\n")[2])
            if len(found) >= limit:
                break
    return found
