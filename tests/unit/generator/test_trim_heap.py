"""Freed heap memory goes back to the OS between adapter-training steps."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rsi_rag.errors import ConfigError
from rsi_rag.loop.train_generator import LoRATrainingConfig

# Run in a fresh interpreter: what glibc keeps after free() depends on every allocation the
# process made before, so a long test session can leave holes that the blocks below reuse.
_SCENARIO = """
import ctypes, ctypes.util, os
from rsi_rag.loop.train_generator import trim_heap

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
if not hasattr(libc, "malloc_trim"):
    raise SystemExit(3)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
# Freeing one large mmapped block raises glibc's mmap threshold past it, so the blocks
# below are carved from the heap, as a training step's activations are.
libc.free(libc.malloc(8 << 20))
size, count = 2 << 20, 64
blocks = [libc.malloc(size) for _ in range(count)]
for b in blocks:
    ctypes.memset(b, 1, size)
# Carved from the top after the blocks, it keeps free() alone from shrinking the heap.
pin = libc.malloc(1 << 20)
for b in blocks:
    libc.free(b)
before = rss()
trimmed = trim_heap()
released = before - rss()
libc.free(pin)
print(trimmed, released, count * size)
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc")
@pytest.mark.skipif(
    "MALLOC_MMAP_THRESHOLD_" in os.environ, reason="a fixed mmap threshold frees blocks at once"
)
def test_trim_heap_releases_freed_blocks_the_allocator_kept() -> None:
    run = subprocess.run(
        [sys.executable, "-c", _SCENARIO], capture_output=True, text=True, timeout=120
    )
    if run.returncode == 3:
        pytest.skip("not glibc")
    assert run.returncode == 0, run.stderr
    trimmed, released, allocated = run.stdout.split()
    assert trimmed == "True"
    assert int(released) > int(allocated) // 2


def test_trim_heap_is_a_setting() -> None:
    assert LoRATrainingConfig().trim_heap is True
    assert LoRATrainingConfig(trim_heap=False).trim_heap is False
    with pytest.raises(ConfigError):
        LoRATrainingConfig(batch_size=0, trim_heap=False)
