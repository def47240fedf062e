"""Bounded in-memory stores: least recently used entries go first once a byte budget is exceeded.

Entries are immutable NumPy arrays (or objects holding them): a request that already holds a
reference keeps working after its entry is evicted, so eviction never breaks a request in flight.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import anyio
import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from app.shared_state import SharedState, Space

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
        self._making: dict[str, threading.Lock] = {}  # a lock per key being made by ``cached`` right now
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
        """The value under ``key``, made and stored first when absent. Callers asking for a key being made wait
        for it instead of making it again (a picture the server starts rendering when a run opens, asked for
        by the page a moment later); if making it fails, each waiting caller tries in turn."""
        value = self.get(key)
        if value is not None:
            return value
        with self._lock:
            making = self._making.setdefault(key, threading.Lock())
        with making:
            value = self.get(key)
            if value is None:
                try:
                    value = make()
                    self.put(key, value)
                finally:
                    with self._lock:
                        self._making.pop(key, None)
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


class ImageStore:
    """Images by content id; bundled samples are pinned and never evicted.

    In one process (``MemoryState``) the decoded images are the state itself, within ``budget`` as before.
    With a shared state (Redis) every image is stored there (encoded, within the same byte budget) so any
    process finds it, and each process also keeps the decoded images it used in a local LRU of ``budget``
    bytes. A local hit is touched in the shared state at most every ``TOUCH_SECONDS``, so images in use stay
    recently used there. ``get``/``put`` block on the shared state: async code calls ``aget``/``aput``.
    """

    TOUCH_SECONDS = 10.0

    def __init__(self, budget: int, state: SharedState | None = None) -> None:
        from app.shared_state import MemoryState, Space, decode_image, encode_image

        self.budget = budget
        self.state: SharedState = state if state is not None else MemoryState()
        self.space: Space[StoredImage] = Space("images", budget, lambda image: image.nbytes, encode_image,
                                               decode_image)
        self._local: ByteBudgetLRU[StoredImage] | None = (
            ByteBudgetLRU(budget, lambda image: image.nbytes) if self.state.shared else None)
        self._touched: dict[str, float] = {}

    @property
    def used(self) -> int:
        """Bytes of decoded images held by this process."""
        return self._local.used if self._local is not None else self.state.used(self.space)

    def _touch_due(self, image_id: str) -> bool:
        now = time.monotonic()
        if now - self._touched.get(image_id, -self.TOUCH_SECONDS) < self.TOUCH_SECONDS:
            return False
        if len(self._touched) > 100_000:
            self._touched.clear()
        self._touched[image_id] = now
        return True

    def get(self, image_id: str) -> StoredImage | None:
        """The image, or None when it is not stored (blocking on a shared state)."""
        if self._local is None:
            return self.state.get(self.space, image_id)
        image = self._local.get(image_id)
        if image is not None:
            if self._touch_due(image_id):
                self._touch(image_id)
            return image
        image = self.state.get(self.space, image_id)
        if image is not None:
            self._touched[image_id] = time.monotonic()
            self._local.put(image_id, image)
        return image

    def _touch(self, image_id: str) -> None:
        from app.shared_state import StateUnavailable

        try:
            self.state.touch(self.space, image_id)  # the local copy is served even if this failed
        except StateUnavailable:
            self._touched.pop(image_id, None)

    async def aget(self, image_id: str) -> StoredImage | None:
        """``get`` without blocking the event loop (a local hit with no touch due never leaves it)."""
        if self._local is None:
            return await self.state.aget(self.space, image_id)
        image = self._local.get(image_id)
        if image is None:
            return await anyio.to_thread.run_sync(self.get, image_id)
        if self._touch_due(image_id):
            await anyio.to_thread.run_sync(self._touch, image_id)
        return image

    def put(self, image_id: str, image: StoredImage, pinned: bool = False) -> None:
        """Store an image (pinned: never evicted). A pinned image (a sample) is kept locally even when the
        shared state can't be reached, so a process starts while Redis is still starting."""
        from app.shared_state import StateUnavailable

        if self._local is None:
            self.state.put(self.space, image_id, image, pinned)
            return
        try:
            self.state.put(self.space, image_id, image, pinned)
        except StateUnavailable as error:
            if not pinned:
                raise
            logging.getLogger("kernel_lens").warning("sample %s kept in this process only: %s", image_id, error)
        self._local.put(image_id, image, pinned=pinned)
        self._touched[image_id] = time.monotonic()

    async def aput(self, image_id: str, image: StoredImage, pinned: bool = False) -> None:
        """``put`` without blocking the event loop."""
        if self._local is None:
            self.put(image_id, image, pinned)
        else:
            await anyio.to_thread.run_sync(self.put, image_id, image, pinned)

    def __contains__(self, image_id: object) -> bool:
        return isinstance(image_id, str) and self.get(image_id) is not None

    def __len__(self) -> int:
        return self._local.__len__() if self._local is not None else self.state.count(self.space)
