"""Progress of a long backward pass, where the user asks for it (``tape.backward(loss, progress=True)``):
tqdm's bar where tqdm is installed (``pip install "srcad[examples]"``), else a line on standard
error rewritten at most twice a second."""

import sys
import time


class _Line:
    """What tqdm shows, without tqdm: ``description: done/total (percent), seconds``."""

    def __init__(self, total, description, stream):
        self.total, self.description, self.stream = total, description, stream
        self.done, self.start, self.shown = 0, time.perf_counter(), 0.0

    def update(self, count):
        self.done += count
        now = time.perf_counter()
        if now - self.shown >= 0.5 or self.done >= self.total:
            self.shown = now
            percent = 100.0 * self.done / self.total if self.total else 100.0
            self.stream.write(f"\r{self.description}: {self.done}/{self.total} ({percent:.0f}%), {now - self.start:.1f} s")
            self.stream.flush()

    def close(self):
        self.stream.write("\n")
        self.stream.flush()


class _Silent:
    def update(self, count):
        pass

    def close(self):
        pass


def bar(total, description, shown):
    """An object with ``update(count)`` and ``close()``: a progress bar over ``total`` units where
    ``shown``, else one that does nothing."""
    if not shown:
        return _Silent()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _Line(total, description, sys.stderr)
    return tqdm(total=total, desc=description, unit="launch")
