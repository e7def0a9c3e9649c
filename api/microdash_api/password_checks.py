"""Password checks, a few at a time: each argon2id verification holds 64 MiB for its duration,
so an unbounded number of parallel logins (even with unknown emails) would exhaust the api's memory."""

import asyncio

from starlette.concurrency import run_in_threadpool

from microdash_core.users import hash_password, verify_password


class ChecksBusy(Exception):
    """Every check slot stayed taken for the whole wait: the caller should answer 503."""


class PasswordChecks:
    def __init__(self, *, at_once: int, wait_seconds: float):
        self._slots = asyncio.Semaphore(at_once)
        self._wait_seconds = wait_seconds
        self._decoy: str | None = None

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """False for a wrong password; an unknown user (None) costs a check too, so response
        times do not reveal which emails exist."""
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout=self._wait_seconds)
        except TimeoutError as exc:
            raise ChecksBusy from exc
        try:
            if password_hash is None:
                password_hash = await self._decoy_hash()
            return await run_in_threadpool(verify_password, password_hash, password)
        finally:
            self._slots.release()

    async def _decoy_hash(self) -> str:
        if self._decoy is None:
            self._decoy = await run_in_threadpool(hash_password, "decoy password never matched")
        return self._decoy
