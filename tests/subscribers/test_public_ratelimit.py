"""The sliding window behind the sign-up rate limits, driven by a hand-moved clock."""

from __future__ import annotations

import pytest

from app.errors import RateLimited
from app.subscribers.ratelimit import SignupLimiter, SlidingWindow


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

    def test_keys_are_independent(self) -> None:
        window = SlidingWindow(window=60, clock=FakeClock())
        assert window.allow("a", 1)[0]
        assert not window.allow("a", 1)[0]
        assert window.allow("b", 1)[0]


class TestSignupLimiter:
    def test_per_ip_refusal_does_not_use_up_global_share(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from app.config import get_settings

        monkeypatch.setenv("NEWSLETTER_RATE_LIMIT_PER_IP_PER_MINUTE", "1")
        monkeypatch.setenv("NEWSLETTER_RATE_LIMIT_GLOBAL_PER_MINUTE", "2")
        get_settings.cache_clear()
        try:
            limiter = SignupLimiter(clock=FakeClock())
            limiter.check("198.51.100.1")
            for _ in range(5):
                with pytest.raises(RateLimited) as exc:
                    limiter.check("198.51.100.1")
                assert exc.value.headers["Retry-After"] == "60"
            limiter.check("198.51.100.2")
            with pytest.raises(RateLimited):
                limiter.check("198.51.100.3")
        finally:
            monkeypatch.delenv("NEWSLETTER_RATE_LIMIT_PER_IP_PER_MINUTE")
            monkeypatch.delenv("NEWSLETTER_RATE_LIMIT_GLOBAL_PER_MINUTE")
            get_settings.cache_clear()
