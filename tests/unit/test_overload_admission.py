"""The in-flight bound: reads and writes share it, writes also have a smaller one."""

from __future__ import annotations

import asyncio
import concurrent.futures

from aefi.overload import Admission
from aefi.settings import Settings


def run_async(coro):
    """asyncio.run in a thread of its own: in one pytest process the browser tests'
    Playwright keeps an event loop running in the main thread."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


def test_writes_have_their_own_smaller_bound_and_reads_keep_the_rest():
    async def go() -> list[bool]:
        adm = Admission(limit=3, write_limit=1, queue=10, wait_s=0)
        got = [await adm.acquire(write=True)]  # the one write place
        got.append(await adm.acquire(write=True))  # no second write
        got += [await adm.acquire(write=False), await adm.acquire(write=False)]
        got.append(await adm.acquire(write=False))  # all three places taken
        adm.release(write=True)
        got.append(await adm.acquire(write=True))  # the write place is free again
        return got

    assert run_async(go()) == [True, False, True, True, False, True]


def test_a_waiting_request_is_admitted_when_a_place_frees_and_refused_past_the_queue():
    async def go() -> tuple[bool, bool]:
        adm = Admission(limit=1, write_limit=1, queue=1, wait_s=60)
        assert await adm.acquire(write=False)
        waiter = asyncio.create_task(adm.acquire(write=False))
        await asyncio.sleep(0)  # the waiter is queued now
        beyond_queue = await adm.acquire(write=False)
        adm.release(write=False)
        return await waiter, beyond_queue

    assert run_async(go()) == (True, False)


def test_limits_follow_the_pool():
    s = Settings(database_url="postgresql+psycopg://x/y", db_pool_size=6, db_max_overflow=4)
    assert (s.inflight_limit, s.write_limit, s.thread_limit) == (8, 4, 12)
    s = Settings(database_url="sqlite:///x.db", db_pool_size=10, db_max_overflow=10)
    assert (s.inflight_limit, s.write_limit) == (18, 4)
    assert Settings(max_inflight=5, worker_threads=7).thread_limit == 7
