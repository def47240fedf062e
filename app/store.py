"""Bounded in-memory stores: least recently used entries go first once a byte budget is exceeded.

Entries are immutable NumPy arrays (or objects holding them): a request that already holds a
reference keeps working after its entry is evicted, so eviction never breaks a request in flight.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
from numpy.typing import NDArray

Value = TypeVar("Value")


class ByteBudgetLRU(Generic[Value]):
    """A thread-safe LRU mapping whose total size (as measured by ``size_of``) stays under a budget.

    Every entry counts in ``used``; pinned entries (the bundled samples) are never evicted, so only
    unpinned ones go, least recently used first. The newest entry stays even alone over the budget,
    so what a request has just stored can be used by its next request.
    """

    def __init__(self, budget: int, size_of: Callable[[Value], int], max_items: int | None = None) -> None:
        self.budget = budget
        self.max_items = max_items
        self._size_of = size_of
        self._items: OrderedDict[str, tuple[Value, int]] = OrderedDict()
        self._pinned: dict[str, tuple[Value, int]] = {}
        self._lock = threading.Lock()
        self.used = 0

    def get(self, key: str) -> Value | None:
        """The value, marked as just used; None when absent."""
        with self._lock:
            item = self._pinned.get(key) or self._items.get(key)
            if item is None:
                return None
            if key in self._items:
                self._items.move_to_end(key)
            return item[0]

    def put(self, key: str, value: Value, pinned: bool = False) -> None:
        """Store a value, evicting the least recently used unpinned entries to stay within the budget."""
        size = self._size_of(value)
        with self._lock:
            for items in (self._items, self._pinned):
                if key in items:
                    pinned = pinned or items is self._pinned
                    self.used -= items.pop(key)[1]
            (self._pinned if pinned else self._items)[key] = (value, size)
            self.used += size
            self._evict(keep=key)

    def _evict(self, keep: str) -> None:
        while self._items and (self.used > self.budget
                               or (self.max_items is not None and len(self._items) > self.max_items)):
            oldest = next(iter(self._items))
            if oldest == keep:
                break
            self.used -= self._items.pop(oldest)[1]

    def cached(self, key: str, make: Callable[[], Value]) -> Value:
        """The value under ``key``, made and stored first when absent (two callers may both make it)."""
        value = self.get(key)
        if value is None:
            value = make()
            self.put(key, value)
        return value

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._items or key in self._pinned

    def __len__(self) -> int:
        with self._lock:
            return len(self._items) + len(self._pinned)


@dataclass(frozen=True)
class StoredImage:
    """A decoded image in both colour modes, float32 (C, H, W) in [0, 255], read-only."""

    image_id: str
    rgb: NDArray[Any]
    gray: NDArray[Any]
    name: str = ""
    photo: bool = True  # False for a chain's feature maps: any float values, shown on a colour scale

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return int(self.rgb.nbytes + self.gray.nbytes)

    def pixels(self, color: str) -> NDArray[Any]:
        """The image as 3 channels ("rgb") or 1 ("gray")."""
        return self.gray if color == "gray" else self.rgb


def held_bytes(*roots: Any, depth: int = 4) -> int:
    """Bytes of every NumPy buffer reachable from ``roots`` (attributes, dicts, lists, tuples), each
    buffer counted once however many views share it: what a cache entry really keeps alive."""
    seen: set[int] = set()
    total = 0

    def visit(value: Any, level: int) -> None:
        nonlocal total
        if isinstance(value, np.ndarray):
            owner = value
            while isinstance(owner.base, np.ndarray):
                owner = owner.base
            if id(owner) not in seen:
                seen.add(id(owner))
                total += owner.nbytes
            return
        if isinstance(value, bytes):
            total += len(value)
            return
        if level == 0 or isinstance(value, str | int | float | bool | type(None)) or id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, list | tuple):
            children = value
        else:
            children = [getattr(value, name) for name in getattr(value, "__slots__", ()) if hasattr(value, name)]
            children += list(getattr(value, "__dict__", {}).values())
        for child in children:
            visit(child, level - 1)

    for root in roots:
        visit(root, depth)
    return total


def content_id(data: bytes) -> str:
    """A stable id for uploaded bytes: the same file always gets the same id."""
    return hashlib.sha256(data).hexdigest()[:24]


def freeze(array: NDArray[Any]) -> NDArray[Any]:
    """Mark an array read-only so shared references can't be changed under a reader."""
    array.setflags(write=False)
    return array


class ImageStore(ByteBudgetLRU[StoredImage]):
    """Images by content id; bundled samples are pinned and never evicted."""

    def __init__(self, budget: int) -> None:
        super().__init__(budget, lambda image: image.nbytes)
