"""File bodies read without holding up the event loop.

A request body's file may sit on a slow disk or a network file system, or be a pipe with
nothing to give yet: a ``read()`` in the event loop's thread would stop every other
request on the loop until it returns. So, as aiohttp does, a file piece is read in the
loop's default executor, except where its bytes are known to be in memory already:

- ``io.BytesIO`` and ``io.StringIO`` are read in place;
- a plain binary file (from ``open()``, read by offset: see
  :func:`.formdata.read_announced`) is first read with ``preadv(..., RWF_NOWAIT)``
  (Linux 4.14+), which copies what the page cache holds and returns at once instead of
  waiting for the disk. A file about to be uploaded usually was just written or read, so
  this is the common case, and it costs one system call where a thread hop per 64 KiB
  would cost more than the read itself. Only when nothing of the piece is cached (or
  the file system cannot promise not to wait) does a thread read it.

A file the kernel copies with sendfile(2) (see :mod:`.request`) is not read here.
"""

from __future__ import annotations

import asyncio
import io
import os
import threading
from typing import Any, Final

__all__ = ("read_file",)

# 0 where the flag does not exist (not Linux): plain files then go to a thread too.
_NOWAIT: Final = getattr(os, "RWF_NOWAIT", 0)
_IN_MEMORY: Final = (io.BytesIO, io.StringIO)


class _Scratch(threading.local):
    """One receive buffer per thread (the event loop's) for page-cache reads: what they
    return is copied out of it, so a fresh zeroed buffer per piece would be a waste."""

    buffer = memoryview(bytearray())


_scratch: Final = _Scratch()


async def read_file(file: Any, n: int, offset: int | None) -> Any:
    """The :data:`.formdata.FileRead` requests use: up to *n* bytes (text: characters) of
    *file*, from its position or from *offset*, without waiting in the event loop's
    thread for a disk or a pipe.

    A piece read by a thread is lost if the caller is cancelled meanwhile (the thread
    finishes the read): the body is abandoned then, as for any partial send.
    """
    # (The loop is asked for only on the way to a thread: on 3.11 each ask is a getpid().)
    if offset is None:
        if isinstance(file, _IN_MEMORY):
            return file.read(n)
        return await asyncio.get_running_loop().run_in_executor(None, file.read, n)
    fd = file.fileno()  # ValueError once closed, as read() raises
    if _NOWAIT:
        data = _read_cached(fd, n, offset)
        if data is not None:
            return data
    return await asyncio.get_running_loop().run_in_executor(None, os.pread, fd, n, offset)


def _read_cached(fd: int, n: int, offset: int) -> bytes | None:
    """What the page cache holds of the *n* bytes at *offset* (at least one); None when a
    thread must read: nothing of them cached, the end of the file, or a file system that
    cannot read without waiting."""
    buffer = _scratch.buffer
    if len(buffer) < n:
        buffer = _scratch.buffer = memoryview(bytearray(n))
    try:
        got = os.preadv(fd, (buffer[:n],), offset, _NOWAIT)
    except OSError:
        # EAGAIN: not cached; EOPNOTSUPP: a file system that cannot promise not to
        # wait; anything else is the thread's pread() to raise.
        return None
    if not got:
        return None  # the end, or nothing cached: the thread's pread() tells which
    return bytes(buffer[:got])
