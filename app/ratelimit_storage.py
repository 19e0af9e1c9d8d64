"""`orderly-memory://`, the default store of the rate limits' counts: Flask-Limiter's in-process memory
store (the `limits` package's MemoryStorage), except for how it forgets expired counts.

MemoryStorage starts a timer thread, 10 ms long, on nearly every hit to sweep expired counts away.
Starting it waits for the new thread to run, and its sweep takes the interpreter lock in the middle of
the next request: under load that cost the API about a fifth of its throughput (docs/performance.md).
The sweep only frees memory: every read already drops its own key once its window has ended. So here the
sweep runs inline, on a hit, at most once a second, and no thread is started.
"""

import threading
import time

from limits.storage import MemoryStorage

SCHEME = "orderly-memory"
SWEEP_EVERY_SECONDS = 1.0


class SweptMemoryStorage(MemoryStorage):
    STORAGE_SCHEME = [SCHEME]  # registered with `limits` when the class is made

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: str):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.next_sweep = 0.0
        self.sweeping = threading.Lock()

    # MemoryStorage calls this private method on every hit to start its timer thread.
    def _MemoryStorage__schedule_expiry(self) -> None:
        moment = time.monotonic()
        if moment < self.next_sweep or not self.sweeping.acquire(blocking=False):
            return
        try:
            self.next_sweep = moment + SWEEP_EVERY_SECONDS
            self._MemoryStorage__expire_events()
        except KeyError:
            # Another request's read dropped an expired key between the sweep listing the keys and reading
            # that one (in MemoryStorage's timer thread this was harmless too). The hit is still counted,
            # and the next sweep sees the rest.
            pass
        finally:
            self.sweeping.release()

    # A lock does not pickle; MemoryStorage drops its own locks the same way.
    def __getstate__(self) -> dict:
        state = super().__getstate__()
        state.pop("sweeping", None)
        return state

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        self.sweeping = threading.Lock()
        self.next_sweep = 0.0  # a monotonic reading means nothing in another process
