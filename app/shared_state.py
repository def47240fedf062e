"""Where what any server process may need is kept: in this process' memory (the default) or in Redis.

Three kinds of things must be found by whichever process a request reaches: uploaded images (by content id),
run requests (a run id is the hash of its request, so any process can recompute the run) and chain requests.
Computed results are not shared: each process keeps them in its own bounded cache and recomputes them from the
request on a miss (the engine is deterministic).

``SharedState`` is the small interface the stores use (``ImageStore``, ``RunRegistry``, ``ChainStore``); nothing
else talks to Redis. ``MemoryState`` is today's single-process behaviour: one byte-budgeted LRU per space, values
kept as they are. ``RedisState`` (``KERNEL_LENS_REDIS_URL`` set) keeps each value encoded in Redis:

* every space has its own byte budget (and for runs a count), enforced by this module with a Lua script, so
  a put and its evictions are one atomic step whichever process makes it: values are strings under
  ``<prefix><space>:v:<key>``, a sorted set ``<space>:lru`` holds each key's last use (a logical clock,
  ``<space>:clock``, so machines' clocks don't matter) and ``<space>:used`` the bytes held; the least recently
  used keys go first, never the one just stored.
* pinned values (the bundled samples) live in their own key space ``<space>:p:<key>``, outside the sorted set
  and the budget, with no TTL: no budget, however small, can evict them.
* Why not Redis' own ``maxmemory`` with ``volatile-lru`` and TTLs on uploads? It would bound the whole Redis
  (the job queue's keys too, which carry TTLs and could be evicted), needs the operator to configure the
  server, and a TTL expires an image that is in use. The budget here is the application's, testable, and
  works on any Redis left at its defaults.

Redis calls block, so async code calls ``aget`` / ``aput``, which run them in worker threads (at most
``IO_THREADS`` at once), never on the event loop. A Redis that is down or refuses raises ``StateUnavailable``,
which the app answers as a 503 with a JSON detail (after a couple of quick retries, within about a second).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable
from urllib.parse import urlsplit

import anyio
import numpy as np
import redis
from fastapi import Request
from fastapi.responses import JSONResponse
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from app.store import ByteBudgetLRU, StoredImage, freeze

T = TypeVar("T")
log = logging.getLogger("kernel_lens")
IO_THREADS = 16  # Redis calls in flight at once per process (each holds a worker thread while it waits)


class StateUnavailable(Exception):
    """The shared state (Redis) cannot be reached or refused a command: the request can't be answered now (503)."""


@dataclass(frozen=True)
class Space(Generic[T]):
    """One kind of shared value: its name (part of the Redis keys), budget and how it is measured and encoded."""

    name: str
    budget: int
    size_of: Callable[[T], int]
    encode: Callable[[T], bytes]
    decode: Callable[[bytes], T]
    max_items: int | None = None


@runtime_checkable
class SharedState(Protocol):
    """Values by space and key, each space within its budget (least recently used first, pinned never)."""

    @property
    def shared(self) -> bool:
        """Whether other processes see what is stored here (then callers keep decoded copies locally)."""

    def describe(self) -> str:
        """Where the state is, for logs and error messages (no password)."""

    def get(self, space: Space[T], key: str) -> T | None:
        """The value (marked as just used), or None; blocking: call it off the event loop."""

    def put(self, space: Space[T], key: str, value: T, pinned: bool = False) -> None:
        """Store a value (evicting least recently used unpinned ones over the budget); blocking."""

    def touch(self, space: Space[Any], key: str) -> None:
        """Mark a value as just used without reading it; blocking."""

    async def aget(self, space: Space[T], key: str) -> T | None:
        """``get`` without blocking the event loop."""

    async def aput(self, space: Space[T], key: str, value: T, pinned: bool = False) -> None:
        """``put`` without blocking the event loop."""

    def used(self, space: Space[Any]) -> int:
        """Bytes held by the space's unpinned and pinned values."""

    def count(self, space: Space[Any]) -> int:
        """Values in the space (unpinned ones, plus pinned ones in memory)."""


class MemoryState:
    """This process' memory: one ``ByteBudgetLRU`` per space, values kept as they are (nothing encoded)."""

    shared = False

    def __init__(self) -> None:
        self._spaces: dict[str, ByteBudgetLRU[Any]] = {}

    def describe(self) -> str:
        return "this process' memory"

    def _lru(self, space: Space[T]) -> ByteBudgetLRU[T]:
        lru = self._spaces.get(space.name)
        if lru is None:
            lru = self._spaces.setdefault(space.name, ByteBudgetLRU(space.budget, space.size_of, space.max_items))
        return lru

    def get(self, space: Space[T], key: str) -> T | None:
        return self._lru(space).get(key)

    def put(self, space: Space[T], key: str, value: T, pinned: bool = False) -> None:
        self._lru(space).put(key, value, pinned=pinned)

    def touch(self, space: Space[Any], key: str) -> None:
        self._lru(space).get(key)

    async def aget(self, space: Space[T], key: str) -> T | None:
        return self.get(space, key)  # a dictionary look-up: no reason to leave the event loop

    async def aput(self, space: Space[T], key: str, value: T, pinned: bool = False) -> None:
        self.put(space, key, value, pinned)

    def used(self, space: Space[Any]) -> int:
        return self._lru(space).used

    def count(self, space: Space[Any]) -> int:
        return len(self._lru(space))


# KEYS: value, lru, used, clock, pinned; ARGV: value, budget, max items (0: none), member, value key prefix
PUT_SCRIPT = """
if redis.call('EXISTS', KEYS[5]) == 1 then return 0 end
local old = redis.call('STRLEN', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1])
local used = redis.call('INCRBY', KEYS[3], string.len(ARGV[1]) - old)
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[4]), ARGV[4])
local budget, most = tonumber(ARGV[2]), tonumber(ARGV[3])
local evicted = 0
while true do
  local count = redis.call('ZCARD', KEYS[2])
  if count <= 1 or (used <= budget and (most == 0 or count <= most)) then break end
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  if oldest == ARGV[4] then break end
  local key = ARGV[5] .. oldest
  used = redis.call('DECRBY', KEYS[3], redis.call('STRLEN', key))
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[2], oldest)
  evicted = evicted + 1
end
return evicted
"""
# KEYS: value, lru, clock, pinned; ARGV: member
GET_SCRIPT = """
local value = redis.call('GET', KEYS[1])
if value then
  redis.call('ZADD', KEYS[2], 'XX', redis.call('INCR', KEYS[3]), ARGV[1])
  return value
end
return redis.call('GET', KEYS[4])
"""
# KEYS: lru, clock; ARGV: member
TOUCH_SCRIPT = """
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[2]), ARGV[1]) end
return 1
"""
# KEYS: pinned, value, lru, used; ARGV: value, member (a pinned value leaves the budgeted space if it was there)
PIN_SCRIPT = """
redis.call('SET', KEYS[1], ARGV[1])
local old = redis.call('STRLEN', KEYS[2])
if old > 0 then
  redis.call('DECRBY', KEYS[4], old)
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[3], ARGV[2])
end
return 1
"""


def redacted(url: str) -> str:
    """A Redis URL without its user name and password."""
    parts = urlsplit(url)
    host = parts.hostname or parts.path or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path if parts.hostname else ''}"


class RedisState:
    """Redis: any process finds what another stored. Budgets per space, pinned values apart (module docstring)."""

    shared = True

    def __init__(self, url: str, prefix: str = "kernel-lens:", connect_timeout: float = 2.0,
                 timeout: float = 10.0) -> None:
        self.url = redacted(url)
        self.prefix = prefix
        # two quick retries of a failed connection (tens of ms) ride out a blip, so a Redis that is down gets its
        # 503 within about a second; a Redis that stops answering is not retried: a 503 after ``timeout`` seconds
        self.client = redis.Redis.from_url(url, socket_connect_timeout=connect_timeout, socket_timeout=timeout,
                                           retry=Retry(ExponentialBackoff(cap=0.25, base=0.05), 2,
                                                       supported_errors=(redis.ConnectionError,)),
                                           health_check_interval=30)
        self._put = self.client.register_script(PUT_SCRIPT)
        self._get = self.client.register_script(GET_SCRIPT)
        self._pin = self.client.register_script(PIN_SCRIPT)
        self._touch = self.client.register_script(TOUCH_SCRIPT)
        self._limiter = anyio.CapacityLimiter(IO_THREADS)

    def describe(self) -> str:
        return f"Redis at {self.url}"

    def _keys(self, space: Space[Any]) -> dict[str, str]:
        base = f"{self.prefix}{space.name}:"
        return {"values": base + "v:", "pinned": base + "p:", "lru": base + "lru", "used": base + "used",
                "clock": base + "clock"}

    def _call(self, what: str, function: Callable[[], Any]) -> Any:
        try:
            return function()
        except redis.RedisError as error:
            raise StateUnavailable(f"the shared state ({self.describe()}) is unavailable, so {what} can't be "
                                   f"answered now: {error}. Try again once it is back.") from None

    def get(self, space: Space[T], key: str) -> T | None:
        keys = self._keys(space)
        data = self._call(f"{space.name} {key}", lambda: self._get(
            keys=[keys["values"] + key, keys["lru"], keys["clock"], keys["pinned"] + key], args=[key]))
        return None if data is None else space.decode(data)

    def put(self, space: Space[T], key: str, value: T, pinned: bool = False) -> None:
        keys = self._keys(space)
        data = space.encode(value)
        if pinned:
            self._call(f"storing {space.name} {key}", lambda: self._pin(
                keys=[keys["pinned"] + key, keys["values"] + key, keys["lru"], keys["used"]], args=[data, key]))
            return
        evicted = self._call(f"storing {space.name} {key}", lambda: self._put(
            keys=[keys["values"] + key, keys["lru"], keys["used"], keys["clock"], keys["pinned"] + key],
            args=[data, space.budget, space.max_items or 0, key, keys["values"]]))
        if evicted:
            log.info("%s: %d least recently used evicted from %s", space.name, evicted, self.describe())

    def touch(self, space: Space[Any], key: str) -> None:
        keys = self._keys(space)
        self._call(f"{space.name} {key}", lambda: self._touch(keys=[keys["lru"], keys["clock"]], args=[key]))

    async def aget(self, space: Space[T], key: str) -> T | None:
        result: T | None = await anyio.to_thread.run_sync(self.get, space, key, limiter=self._limiter)
        return result

    async def aput(self, space: Space[T], key: str, value: T, pinned: bool = False) -> None:
        await anyio.to_thread.run_sync(self.put, space, key, value, pinned, limiter=self._limiter)

    def used(self, space: Space[Any]) -> int:
        keys = self._keys(space)

        def read() -> int:
            pinned = 0
            for pinned_key in self.client.scan_iter(match=keys["pinned"] + "*", count=1000):
                pinned += int(self.client.strlen(pinned_key))
            return int(self.client.get(keys["used"]) or 0) + pinned

        return int(self._call(f"the size of {space.name}", read))

    def count(self, space: Space[Any]) -> int:
        return int(self._call(f"the count of {space.name}", lambda: self.client.zcard(self._keys(space)["lru"])))

    def ping(self) -> None:
        """Raise StateUnavailable unless Redis answers."""
        self._call("a ping", self.client.ping)

    def close(self) -> None:
        self.client.close()


def state_from(redis_url: str | None, prefix: str = "kernel-lens:") -> SharedState:
    """``RedisState`` when a URL is configured, else ``MemoryState``."""
    return RedisState(redis_url, prefix) if redis_url else MemoryState()


def raw(value: bytes) -> bytes:
    """Encode or decode bytes as themselves."""
    return value


IMAGE_MAGIC = b"KLI1"


def encode_image(image: StoredImage) -> bytes:
    """A stored image as bytes: a JSON header, then its arrays' raw bytes. Arrays that hold only whole numbers
    0-255 (pixels) are stored as uint8 and read back exactly; gray is stored once when it equals rgb."""
    arrays = [image.rgb] if image.gray is image.rgb or (
        image.gray.shape == image.rgb.shape and np.array_equal(image.gray, image.rgb)) else [image.rgb, image.gray]
    fields, payloads = [], []
    for array in arrays:
        compact = array.dtype.kind == "f" and array.size > 0 and bool(
            array.min() >= 0 and array.max() <= 255 and np.array_equal(array, np.round(array)))
        stored = array.astype(np.uint8) if compact else np.ascontiguousarray(array)
        fields.append({"dtype": stored.dtype.str, "shape": list(array.shape), "restore": array.dtype.str})
        payloads.append(stored.tobytes())
    header = json.dumps({"id": image.image_id, "name": image.name, "photo": image.photo, "arrays": fields}).encode()
    return b"".join([IMAGE_MAGIC, len(header).to_bytes(4, "little"), header, *payloads])


def decode_image(data: bytes) -> StoredImage:
    """The inverse of ``encode_image`` (read-only arrays, as the store keeps them)."""
    if data[:4] != IMAGE_MAGIC:
        raise StateUnavailable("the shared state holds an image this version can't read (not KLI1)")
    length = int.from_bytes(data[4:8], "little")
    header = json.loads(data[8:8 + length])
    offset, arrays = 8 + length, []
    for field in header["arrays"]:
        count = int(np.prod(field["shape"]))
        stored = np.frombuffer(data, dtype=np.dtype(field["dtype"]), count=count, offset=offset)
        offset += stored.nbytes
        arrays.append(freeze(stored.reshape(field["shape"]).astype(np.dtype(field["restore"]))))
    rgb = arrays[0]
    return StoredImage(header["id"], rgb, arrays[1] if len(arrays) > 1 else rgb, header["name"], header["photo"])


async def unavailable(request: Request, error: Exception) -> JSONResponse:
    """``StateUnavailable`` as a 503 with its reason (a load balancer or the page may retry shortly)."""
    log.warning("%s %s: %s", request.method, request.url.path, error)
    return JSONResponse({"detail": str(error)}, status_code=503, headers={"Retry-After": "1"})
