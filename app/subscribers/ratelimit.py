"""In-process sliding-window rate limits for the public sign-up: per client IP and global."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from app.config import get_settings
from app.errors import RateLimited

WINDOW_SECONDS = 60.0
# Bound memory under a flood of distinct addresses: idle keys are swept past this size.
_SWEEP_AT = 10_000


class SlidingWindow:
    """Counts events per key over the last `window` seconds (exact, not bucketed)."""

    def __init__(self, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.window = window
        self.clock = clock
        self._events: dict[str, deque[float]] = {}

    def allow(self, key: str, limit: int) -> tuple[bool, float]:
        """Record an event for key if under limit; (allowed, seconds until a slot frees)."""
        current = self.clock()
        events = self._events.setdefault(key, deque())
        while events and events[0] <= current - self.window:
            events.popleft()
        if len(events) >= limit:
            return False, max(0.0, events[0] + self.window - current)
        events.append(current)
        if len(self._events) > _SWEEP_AT:
            self._sweep(current)
        return True, 0.0

    def _sweep(self, current: float) -> None:
        for key in [k for k, v in self._events.items() if not v or v[-1] <= current - self.window]:
            del self._events[key]


class SignupLimiter:
    """Per client IP (across federations) and per federation limits from settings
    (rate_limit_per_ip_per_minute, rate_limit_global_per_minute)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_ip = SlidingWindow(clock=clock)
        self.overall = SlidingWindow(clock=clock)

    def check(self, ip: str, federation_id: int) -> None:
        """Count one attempt from ip on a federation's form, or raise RateLimited (429) with
        Retry-After."""
        settings = get_settings()
        ok, wait = self.per_ip.allow(ip, settings.rate_limit_per_ip_per_minute)
        if ok:
            # A request refused per IP is not counted globally, so one noisy client cannot
            # use up everyone else's share; and the budget is per federation, so a flood on
            # one federation's form cannot lock every other federation's.
            ok, wait = self.overall.allow(str(federation_id), settings.rate_limit_global_per_minute)
        if not ok:
            raise RateLimited(headers={"Retry-After": str(max(1, int(wait + 0.999)))})


def signup_limiter(state: Any) -> SignupLimiter:
    """The application's one limiter for public forms (sign-up and self-service links share
    one budget per client IP), created on first use."""
    limiter: SignupLimiter | None = getattr(state, "signup_limiter", None)
    if limiter is None:
        limiter = SignupLimiter()
        state.signup_limiter = limiter
    return limiter
