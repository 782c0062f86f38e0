"""Failed logins slow down; they never lock the phone's owner out.

Two counters stand in front of every password (and activation code) check:
- per (phone, client address): LOGIN_FREE_TRIES free tries, then each further try waits 2, 4, 8 ...
  seconds, up to LOGIN_MAX_DELAY_SECONDS. Guesses from another address never touch the owner's pair, and
  a successful login clears it;
- per client address, across phones: the same, with a much higher threshold (LOGIN_FREE_TRIES_PER_IP) and
  a short cap, because many residents may sit behind one address; a successful login gives its try back.
A counter is forgotten a day after its last try.

A try is counted *before* the password is checked, in one atomic step that also decides whether it may go
ahead, so twenty guesses sent at once cannot all slip past the check. The counters live in Redis when
RATELIMIT_STORAGE_URI is redis:// (a Lua script: shared by every worker and server), else in this process
(a warning at start-up says so: with several workers each would count on its own). Times come from the
app's clock as arguments, so tests move the clock instead of waiting.
"""
import ipaddress
import threading
from dataclasses import dataclass

from flask import Flask, current_app

KEY = "pointsapp.login_throttle"
FORGET_SECONDS = 24 * 3600
PREFIX = "pointsapp:login:"


@dataclass(frozen=True)
class Policy:
    free: int  # tries that need no wait
    cap: int  # the longest wait, seconds

    def delay(self, tries: int) -> float:
        """How long the next try waits after `tries` counted ones."""
        if tries < self.free:
            return 0
        return float(min(2 ** min(tries - self.free + 1, 30), self.cap))


class MemoryCounters:
    """Counters in this process: right for one worker and for tests."""

    def __init__(self):
        self._lock = threading.Lock()
        self._rows: dict[str, list[float]] = {}  # key -> [tries, next allowed at, last try at]

    def acquire(self, key: str, now: float, policy: Policy) -> float:
        with self._lock:
            tries, next_at, last = self._rows.get(key, (0, 0.0, 0.0))
            if now - last >= FORGET_SECONDS:
                tries, next_at = 0, 0.0
            if now < next_at:
                return next_at - now
            tries += 1
            self._rows[key] = [tries, now + policy.delay(tries), now]
            return 0.0

    def give_back(self, key: str) -> None:
        with self._lock:
            row = self._rows.get(key)
            if row and row[0] > 0:
                row[0] -= 1

    def forget(self, key: str) -> None:
        with self._lock:
            self._rows.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()


# The same steps as MemoryCounters.acquire, atomic in Redis. Numbers travel as strings (a Lua number
# returned to Redis is cut to an integer).
_ACQUIRE = """
local tries = tonumber(redis.call('HGET', KEYS[1], 't') or '0')
local next_at = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local last = tonumber(redis.call('HGET', KEYS[1], 'l') or '0')
local now, free, cap, forget = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if now - last >= forget then tries = 0; next_at = 0 end
if now < next_at then return tostring(next_at - now) end
tries = tries + 1
local delay = 0
if tries >= free then delay = math.min(2 ^ math.min(tries - free + 1, 30), cap) end
redis.call('HSET', KEYS[1], 't', tries, 'n', tostring(now + delay), 'l', tostring(now))
redis.call('EXPIRE', KEYS[1], forget)
return '0'
"""
_GIVE_BACK = """
if tonumber(redis.call('HGET', KEYS[1], 't') or '0') > 0 then redis.call('HINCRBY', KEYS[1], 't', -1) end
return 0
"""


class RedisCounters:
    """Counters in Redis, shared by every worker and server."""

    def __init__(self, url: str):
        import redis  # only needed when configured

        self.client = redis.Redis.from_url(url)
        self._acquire = self.client.register_script(_ACQUIRE)
        self._give_back = self.client.register_script(_GIVE_BACK)

    def acquire(self, key: str, now: float, policy: Policy) -> float:
        return float(self._acquire(keys=[PREFIX + key], args=[repr(now), policy.free, policy.cap, FORGET_SECONDS]))

    def give_back(self, key: str) -> None:
        self._give_back(keys=[PREFIX + key])

    def forget(self, key: str) -> None:
        self.client.delete(PREFIX + key)

    def clear(self) -> None:
        for key in self.client.scan_iter(PREFIX + "*"):
            self.client.delete(key)


def client_address(ip: str) -> str:
    """What counts as one client: an IPv4 address, or an IPv6 /64 (one household's line hands out a whole
    /64, so counting single IPv6 addresses would give a guesser millions of fresh starts)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.ip_network(f"{address}/64", strict=False))


class LoginThrottle:
    def __init__(self, counters, pair: Policy, per_ip: Policy):
        self.counters, self.pair, self.per_ip = counters, pair, per_ip

    @staticmethod
    def _keys(kind: str, phone: str, ip: str) -> tuple[str, str]:
        address = client_address(ip)
        return f"{kind}:{phone}|{address}", f"ip:{address}"

    def try_once(self, kind: str, phone: str, ip: str, now: float) -> float:
        """Count one try of `kind` ("login", "activate") for phone from ip; 0 if it may go ahead, else the
        seconds to wait (nothing counted)."""
        pair_key, ip_key = self._keys(kind, phone, ip)
        wait = self.counters.acquire(ip_key, now, self.per_ip)
        if wait:
            return wait
        wait = self.counters.acquire(pair_key, now, self.pair)
        if wait:
            self.counters.give_back(ip_key)  # this try never reached the password
        return wait

    def succeeded(self, kind: str, phone: str, ip: str) -> None:
        """The right password: the pair starts over, and the address gets its try back."""
        pair_key, ip_key = self._keys(kind, phone, ip)
        self.counters.forget(pair_key)
        self.counters.give_back(ip_key)

    def clear(self) -> None:
        self.counters.clear()


WARN_KEY = "pointsapp.login_throttle_warn"


def init_app(app: Flask) -> None:
    uri = app.config.get("RATELIMIT_STORAGE_URI") or "memory://"
    shared = uri.split(":", 1)[0] in ("redis", "rediss")
    app.extensions[KEY] = RedisCounters(uri) if shared else MemoryCounters()
    # said once per worker, at its first login, not by every `flask …` command (migrations, cron jobs)
    app.extensions[WARN_KEY] = not shared and not app.debug and not app.testing


def login_throttle() -> LoginThrottle:
    """The current app's throttle, with the limits its configuration holds now."""
    config = current_app.config
    if current_app.extensions.get(WARN_KEY):
        current_app.extensions[WARN_KEY] = False
        current_app.logger.warning("login limits are per worker (RATELIMIT_STORAGE_URI=%s); with more than one "
                                   "worker set RATELIMIT_STORAGE_URI=redis://...", config.get("RATELIMIT_STORAGE_URI"))
    return LoginThrottle(current_app.extensions[KEY],
                         pair=Policy(config["LOGIN_FREE_TRIES"], config["LOGIN_MAX_DELAY_SECONDS"]),
                         per_ip=Policy(config["LOGIN_FREE_TRIES_PER_IP"], config["LOGIN_MAX_DELAY_SECONDS_PER_IP"]))
