"""Print the dashboard's numbers as terminal tables."""

from django.core.management.base import BaseCommand, CommandParser

from shop import ops


class Command(BaseCommand):
    help = "Print hit rates per namespace, each Redis role's health and the write-behind."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--minutes", type=int, default=None, help="Window in minutes (default: since start)."
        )

    def handle(self, *args, minutes: int | None, **options) -> None:
        window = f"last {minutes} minutes" if minutes else "since start"
        self.stdout.write(f"Hit rates ({window}); flagged under {ops.LOW_HIT_RATE:.0%}:")
        header = f"{'namespace':<22}{'rate':>7}{'hits':>10}{'stale':>8}{'misses':>9}"
        header += f"{'loads':>9}{'load ms':>10}{'errors':>8}{'bypass':>8}"
        self.stdout.write(header)
        for r in ops.hit_rates(minutes):
            rate = f"{r.rate:.1%}" if r.rate is not None else "-"
            flag = "  LOW" if r.low else ""
            self.stdout.write(
                f"{r.namespace:<22}{rate:>7}{r.hit:>10}{r.stale:>8}{r.miss:>9}"
                f"{r.load:>9}{r.load_ms:>10}{r.error:>8}{r.bypass:>8}{flag}"
            )
        self.stdout.write("\nRedis roles:")
        for role, info in ops.redis_roles().items():
            if "error" in info:
                self.stdout.write(f"  {role:<7} unreachable: {info['error']}")
                continue
            limit = info["maxmemory_human"] if info["maxmemory"] else "no limit"
            self.stdout.write(
                f"  {role:<7} {info['used_memory_human']} of {limit} ({info['maxmemory_policy']}),"
                f" {info['evicted_keys']} evicted, {info['instantaneous_ops_per_sec']} ops/s,"
                f" {info['connected_clients']} clients"
            )
        wb = ops.write_behind()
        p50 = f"{wb['lag_p50']:.2f} s" if wb["lag_p50"] is not None else "-"
        p99 = f"{wb['lag_p99']:.2f} s" if wb["lag_p99"] is not None else "-"
        self.stdout.write(
            f"\nWrite-behind: {wb['dirty']} dirty carts, sync lag p50 {p50}, p99 {p99}; "
            f"Celery queue: {ops.celery_queue_length()}"
        )
