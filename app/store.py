"""Bounded in-memory stores: least recently used entries go first once a byte budget is exceeded.

Entries are immutable NumPy arrays (or objects holding them): a request that already holds a
reference keeps working after its entry is evicted, so eviction never breaks a request in flight.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from numpy.typing import NDArray

Value = TypeVar("Value")


class ByteBudgetLRU(Generic[Value]):
    """A thread-safe LRU mapping whose total size (as measured by ``size_of``) stays under a budget.

    Every entry counts in ``used``; pinned entries (the bundled samples) are never evicted, so only
    unpinned ones go, least recently used first. The newest entry stays even alone over the budget,
    so what a request has just stored can be used by its next request.
    """

    def __init__(self, budget: int, size_of: Callable[[Value], int]) -> None:
        self.budget = budget
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
        while self.used > self.budget and self._items:
            oldest = next(iter(self._items))
            if oldest == keep:
                break
            self.used -= self._items.pop(oldest)[1]

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
    preview: dict[str, bytes] = field(default_factory=dict, compare=False)
    photo: bool = True  # False for a chain's feature maps: any float values, shown on a colour scale

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return int(self.rgb.nbytes + self.gray.nbytes)

    def pixels(self, color: str) -> NDArray[Any]:
        """The image as 3 channels ("rgb") or 1 ("gray")."""
        return self.gray if color == "gray" else self.rgb


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
