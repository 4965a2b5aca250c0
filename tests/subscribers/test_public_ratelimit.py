"""The sliding window behind the sign-up rate limits, driven by a hand-moved clock."""

from __future__ import annotations

import pytest

from app.errors import RateLimited
from app.subscribers.ratelimit import SignupLimiter, SlidingWindow
from tests.fixtures.settings import Configure


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class TestSlidingWindow:
    def test_window_slides_instead_of_resetting(self) -> None:
        clock = FakeClock()
        window = SlidingWindow(window=60, clock=clock)
        assert window.allow("ip", 2)[0]
        clock.t += 30
        assert window.allow("ip", 2)[0]
        allowed, wait = window.allow("ip", 2)
        assert not allowed
        assert wait == pytest.approx(30)
        clock.t += 30.001  # the first event has left the window, the second has not
        assert window.allow("ip", 2)[0]
        assert not window.allow("ip", 2)[0]

    def test_an_attempt_leaves_the_instant_it_is_a_window_old(self) -> None:
        clock = FakeClock()
        window = SlidingWindow(window=60, clock=clock)
        assert window.allow("ip", 1)[0]
        clock.t += 60
        assert window.allow("ip", 1)[0]

    def test_keys_are_independent(self) -> None:
        window = SlidingWindow(window=60, clock=FakeClock())
        assert window.allow("a", 1)[0]
        assert not window.allow("a", 1)[0]
        assert window.allow("b", 1)[0]


class TestSignupLimiter:
    def test_retry_after_rounds_the_wait_up(self, configure: Configure) -> None:
        """Told to come back sooner than the slot frees, a client would be refused again."""
        configure(rate_limit_per_ip_per_minute="1")
        clock = FakeClock()
        limiter = SignupLimiter(clock=clock)
        limiter.check("198.51.100.1", 1)
        clock.t += 29.5
        with pytest.raises(RateLimited) as exc:
            limiter.check("198.51.100.1", 1)
        assert exc.value.headers["Retry-After"] == "31"  # 30.5 s until the slot frees

    def test_per_ip_refusal_does_not_use_up_global_share(self, configure: Configure) -> None:
        configure(rate_limit_per_ip_per_minute="1", rate_limit_global_per_minute="2")
        limiter = SignupLimiter(clock=FakeClock())
        limiter.check("198.51.100.1", 1)
        for _ in range(5):
            with pytest.raises(RateLimited) as exc:
                limiter.check("198.51.100.1", 1)
            assert exc.value.headers["Retry-After"] == "60"
        limiter.check("198.51.100.2", 1)
        with pytest.raises(RateLimited):
            limiter.check("198.51.100.3", 1)

    def test_a_flood_on_one_federation_leaves_the_others_open(self, configure: Configure) -> None:
        # 31 addresses on one federation's form used to lock every federation's form.
        configure(rate_limit_per_ip_per_minute="1", rate_limit_global_per_minute="30")
        limiter = SignupLimiter(clock=FakeClock())
        for i in range(30):
            limiter.check(f"198.51.100.{i}", 1)
        with pytest.raises(RateLimited):
            limiter.check("198.51.100.200", 1)
        limiter.check("203.0.113.9", 2)
