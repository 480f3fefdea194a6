"""The one place where retries, timeouts and rate-limit waits are configured.

GitHub and Azure DevOps each come with an SDK built on urllib3, so both get a
urllib3 ``Retry`` from here: bounded retries for 5xx and timeouts, and waits
taken from the servers' own headers (``Retry-After``, ``X-RateLimit-Reset``).
Downloads that leave the API (signed log URLs on blob storage) use a plain
``requests`` session mounted with the same policy.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import requests
from github.GithubException import RateLimitExceededExceedsMaxWait
from github.GithubRetry import GithubRetry
from requests.adapters import HTTPAdapter
from urllib3 import Retry
from urllib3.response import HTTPResponse

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 30
RETRIES = 4
# urllib3 sleeps backoff * 2**(n-1) before retry n (none before the first).
BACKOFF_SECONDS = 1.0
# Longest wait for a rate-limit reset; beyond it the scope fails and keeps its
# last good data, rather than holding the nightly job for up to an hour.
MAX_RATE_LIMIT_WAIT = 900.0
SECONDARY_RATE_WAIT = 60.0
# GitHub asks API clients to send requests one at a time with a short pause.
GITHUB_PAUSE_SECONDS: float | None = 0.25
RETRY_STATUSES = (500, 502, 503, 504)


class GitHubRateLimitRetry(GithubRetry):
    """PyGithub's retry, which also waits out a 429 that names no ``Retry-After``.

    GitHub answers an exhausted limit with 403 or 429. PyGithub reads the reset
    time of a 403 only; a bare 429 would otherwise be retried without waiting.
    """

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: HTTPResponse | None = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Retry:
        args = (method, url, response, error, _pool, _stacktrace)
        if response is None or response.status != 429:
            return super().increment(*args)
        if response.headers.get("Retry-After"):
            return super().increment(*args)
        retry = Retry.increment(self, *args)
        wait = max(_reset_wait(response.headers), retry.get_backoff_time())
        if self.max_rate_limit_wait is not None and wait > self.max_rate_limit_wait:
            raise RateLimitExceededExceedsMaxWait(
                429, None, dict(response.headers), "rate limit reset too far", wait
            )
        logger.info("GitHub rate limit hit: waiting %.0f s", wait)
        retry.get_backoff_time = lambda: wait  # type: ignore[method-assign]
        return retry


def _reset_wait(headers: Any) -> float:
    """Seconds until ``X-RateLimit-Reset`` when the primary limit is spent."""
    if headers.get("X-RateLimit-Remaining") != "0":
        return SECONDARY_RATE_WAIT
    reset = headers.get("X-RateLimit-Reset", "")
    if not reset.isdigit():
        return SECONDARY_RATE_WAIT
    return max(0.0, int(reset) - time.time())


def github_retry() -> Retry:
    """The retry policy handed to PyGithub."""
    return GitHubRateLimitRetry(
        total=RETRIES,
        backoff_factor=BACKOFF_SECONDS,
        status_forcelist=[*RETRY_STATUSES, 429],
        secondary_rate_wait=SECONDARY_RATE_WAIT,
        max_rate_limit_wait=MAX_RATE_LIMIT_WAIT,
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def plain_retry() -> Retry:
    """The retry policy for Azure DevOps and for blob downloads."""
    return Retry(
        total=RETRIES,
        connect=RETRIES,
        read=RETRIES,
        status=RETRIES,
        backoff_factor=BACKOFF_SECONDS,
        status_forcelist=[*RETRY_STATUSES, 429],
        allowed_methods=["GET", "HEAD", "OPTIONS"],
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def download_session() -> requests.Session:
    """A session for signed download URLs: no credentials, same retries."""
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=plain_retry())
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class Throttle:
    """Honours Azure DevOps delay headers sent on successful responses.

    Azure DevOps first slows a heavy client down with ``Retry-After`` and
    ``X-RateLimit-Delay`` on 200 answers before it starts refusing with 429;
    waiting as asked keeps the sweep out of the blocked state.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._not_before = 0.0

    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        delay = _delay_seconds(response.headers)
        if delay > 0:
            logger.info("Azure DevOps asks to slow down: waiting %.1f s", delay)
            with self._lock:
                self._not_before = max(self._not_before, time.monotonic() + delay)

    def wait(self) -> None:
        with self._lock:
            pause = self._not_before - time.monotonic()
        if pause > 0:
            time.sleep(min(pause, MAX_RATE_LIMIT_WAIT))


def _delay_seconds(headers: Any) -> float:
    for name in ("Retry-After", "X-RateLimit-Delay"):
        value = headers.get(name)
        if value:
            try:
                return float(value)
            except ValueError:
                continue
    return 0.0


def configure_ado_client(client: Any, throttle: Throttle) -> Any:
    """Give an azure-devops SDK client our retries, timeout and throttle."""
    config = client.config
    # msrest hands its Retry object to the session it opens when the client is
    # built, so the policy is changed in place rather than replaced.
    vars(config.retry_policy.policy).update(vars(plain_retry()))
    config.connection.timeout = TIMEOUT_SECONDS
    config.hooks.append(throttle.hook)
    return client
