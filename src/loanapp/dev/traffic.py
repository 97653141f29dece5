"""Steady prediction traffic for the demo and the tests: bounded in count and time, loopback only.

    python -m loanapp.dev.traffic http://127.0.0.1:8000 --out replies.json --stop-file STOP

sends POST /predict from a few client threads until the stop file appears, `--max-seconds` pass
or `--max-requests` are sent, then writes every reply (status, model version) as JSON.
"""

from __future__ import annotations

import argparse
import itertools
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import orjson
import urllib3

from loanapp.training.data import load_dataset

DEFAULT_CONCURRENCY = 4
DEFAULT_MAX_SECONDS = 300.0
DEFAULT_MAX_REQUESTS = 1_000_000
# Steady, not saturating: each client pauses between requests, so that the services (and any
# service restarting beside them) keep CPU to spare on a small machine.
DEFAULT_PAUSE_SECONDS = 0.02
SUMMARY_WINDOW_SECONDS = 0.5


@dataclass(frozen=True)
class Reply:
    """One request's outcome: HTTP status (0 if no answer) and the version that answered."""

    at: float
    status: int
    version: str | None
    error: str | None = None


@dataclass(frozen=True)
class Summary:
    """What a traffic run saw."""

    sent: int
    failed: int
    versions_in_order: list[str]


def summarize(replies: Sequence[Reply], window_seconds: float = SUMMARY_WINDOW_SECONDS) -> Summary:
    """Requests sent, failed ones (no answer or not 2xx), and the versions served, in order.

    Workers swap independently, so for a moment around each change replies alternate between
    the old and the new version; the order is therefore taken from the version most replies had
    in each `window_seconds` slice of time.
    """
    windows: dict[int, Counter[str]] = {}
    for reply in replies:
        if reply.version:
            windows.setdefault(int(reply.at // window_seconds), Counter())[reply.version] += 1
    majority = (windows[key].most_common(1)[0][0] for key in sorted(windows))
    versions = [version for version, _ in itertools.groupby(majority)]
    failed = sum(1 for r in replies if not 200 <= r.status < 300)
    return Summary(sent=len(replies), failed=failed, versions_in_order=versions)


def sample_rows(count: int = 200) -> list[dict[str, Any]]:
    """Real applicants from the shipped data, as JSON-ready dicts."""
    return cast(list[dict[str, Any]], load_dataset().features.head(count).to_dict("records"))


class Traffic:
    """Client threads posting /predict in a loop until stopped or a bound is reached."""

    def __init__(
        self,
        url: str,
        *,
        rows: Sequence[dict[str, Any]],
        concurrency: int = DEFAULT_CONCURRENCY,
        max_seconds: float = DEFAULT_MAX_SECONDS,
        max_requests: int = DEFAULT_MAX_REQUESTS,
        stop_file: Path | None = None,
        pause_seconds: float = DEFAULT_PAUSE_SECONDS,
    ) -> None:
        self.url = url.rstrip("/") + "/predict"
        self.bodies = [orjson.dumps(row) for row in rows]
        self.concurrency = concurrency
        self.max_seconds = max_seconds
        self.max_requests = max_requests
        self.stop_file = stop_file
        self.pause_seconds = pause_seconds
        self.replies: list[Reply] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads = [
            threading.Thread(target=self._client, args=(index,), daemon=True)
            for index in range(concurrency)
        ]

    def start(self) -> Traffic:
        """Start the client threads."""
        self._deadline = time.monotonic() + self.max_seconds
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> list[Reply]:
        """Stop the clients, wait for them, and return every reply."""
        self._stopping.set()
        for thread in self._threads:
            thread.join()
        return list(self.replies)

    def wait(self) -> list[Reply]:
        """Wait until a bound or the stop file ends the run, and return every reply."""
        for thread in self._threads:
            thread.join()
        return list(self.replies)

    def _should_stop(self) -> bool:
        return (
            self._stopping.is_set()
            or time.monotonic() > self._deadline
            or len(self.replies) >= self.max_requests
            or (self.stop_file is not None and self.stop_file.exists())
        )

    def _client(self, index: int) -> None:
        pool = urllib3.PoolManager(maxsize=1, retries=False)
        headers = {"Content-Type": "application/json"}
        for body in itertools.islice(itertools.cycle(self.bodies), index, None):
            if self._should_stop():
                return
            started = time.time()
            try:
                response = pool.request("POST", self.url, body=body, headers=headers, timeout=30.0)
                version = orjson.loads(response.data).get("model_version")
                reply = Reply(at=started, status=response.status, version=version)
            except (urllib3.exceptions.HTTPError, orjson.JSONDecodeError) as exc:
                reply = Reply(
                    at=started, status=0, version=None, error=f"{type(exc).__name__}: {exc}"
                )
            with self._lock:
                self.replies.append(reply)
            self._stopping.wait(self.pause_seconds)


def main(argv: Sequence[str] | None = None) -> None:
    """Run traffic against a predict API until stopped; write the replies as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--stop-file", type=Path)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--max-seconds", type=float, default=DEFAULT_MAX_SECONDS)
    parser.add_argument("--max-requests", type=int, default=DEFAULT_MAX_REQUESTS)
    parser.add_argument("--pause-seconds", type=float, default=DEFAULT_PAUSE_SECONDS)
    options = parser.parse_args(argv)
    traffic = Traffic(
        options.url,
        rows=sample_rows(),
        concurrency=options.concurrency,
        max_seconds=options.max_seconds,
        max_requests=options.max_requests,
        stop_file=options.stop_file,
        pause_seconds=options.pause_seconds,
    ).start()
    replies = traffic.wait()
    options.out.write_bytes(orjson.dumps([asdict(reply) for reply in replies]))


if __name__ == "__main__":
    main()
