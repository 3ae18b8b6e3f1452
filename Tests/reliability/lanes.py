"""Lanes shared by the fault, fetch and concurrency tests, and a way to spread cases over them."""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from pathlib import Path
from typing import TypeVar

from reliability.harness import Lane

T = TypeVar('T')
LANES = 2   # lanes per pytest session; each lane is one emulator and one worker process


def open_lanes(stack: ExitStack, root: Path, count: int = LANES) -> list[Lane]:
    """``count`` lanes (the unified builds are parsed once per content by xsoar_local's catalog, so nothing here
    needs to memoize them)."""
    return [stack.enter_context(Lane.open(root / f'lane{i}')) for i in range(count)]


def spread(lanes: list[Lane], items: Iterable[T], work: Callable[[Lane, T], None]) -> None:
    """Run ``work(lane, item)`` for every item, one item at a time per lane, lanes in parallel."""
    todo: queue.Queue[T] = queue.Queue()
    for item in items:
        todo.put(item)
    errors: list[BaseException] = []

    def drain(lane: Lane) -> None:
        while True:
            try:
                item = todo.get_nowait()
            except queue.Empty:
                return
            try:
                work(lane, item)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the test thread below
                errors.append(exc)
                return

    threads = [threading.Thread(target=drain, args=(lane,)) for lane in lanes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
