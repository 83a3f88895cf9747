"""The sync runner against an in-memory connector: retries with backoff, per-item reports,
resuming after a crash, cursors, concurrency and the scheduler."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

import connectors
from connectors.base import ConnectorOptions, TransientSourceError
from connectors.registry import unregister_connector
from rsi_rag.errors import ConflictError, CorruptFileError, UnknownSourceError, ValidationError


class _Crash(BaseException):
    """Stands for the process being killed in the middle of a sync."""


@dataclass
class _Source:
    items: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (version, text)
    transient: dict[str, int] = field(default_factory=dict)  # id -> failures left
    corrupt: set[str] = field(default_factory=set)
    crash_at: int | None = None
    fetches: list[str] = field(default_factory=list)
    cursors: list[str | None] = field(default_factory=list)


SOURCES: dict[str, _Source] = {}


class MemoryOptions(ConnectorOptions):
    store: str


class MemoryConnector(connectors.Connector):
    type_name = "memory-test"
    Options = MemoryOptions

    @property
    def src(self) -> _Source:
        assert isinstance(self.options, MemoryOptions)
        return SOURCES[self.options.store]

    def _list(self, cursor: str | None) -> connectors.Listing:
        self.src.cursors.append(cursor)
        items = [connectors.Item(k, v, name=f"{k}.txt") for k, (v, _) in self.src.items.items()]
        return connectors.Listing(items, cursor=f"c{len(self.src.cursors)}")

    def _fetch(self, item: connectors.Item) -> connectors.Fetched:
        src = self.src
        src.fetches.append(item.id)
        if src.crash_at is not None and len(src.fetches) >= src.crash_at:
            raise _Crash()
        if src.transient.get(item.id, 0) > 0:
            src.transient[item.id] -= 1
            raise TransientSourceError(f"{item.id}: connection reset")
        if item.id in src.corrupt:
            raise CorruptFileError(f"{item.id} is corrupt", source=item.id)
        return connectors.Fetched(src.items[item.id][1], item.name)


@pytest.fixture
def source() -> Iterator[_Source]:
    connectors.register_connector(MemoryConnector)
    SOURCES["m"] = src = _Source()
    yield src
    SOURCES.clear()
    unregister_connector("memory-test")


def _runner(rag: Any, **kw: Any) -> connectors.SyncRunner:
    runner = connectors.SyncRunner(rag, backoff_s=0.001, **kw)
    if not runner.sources():
        runner.add_source("mem", "memory-test", "kb", {"store": "m"})
    return runner


def _fill(src: _Source, n: int, version: str = "v1") -> None:
    for i in range(n):
        src.items[f"doc{i}"] = (version, f"document {i} about topic {i} version {version}")


def test_transient_failures_are_retried_then_reported(source: _Source, fake_rag: Any) -> None:
    _fill(source, 3)
    source.transient = {"doc0": 2, "doc1": 99}
    source.corrupt = {"doc2"}
    report = _runner(fake_rag, retries=3).sync("mem")
    assert report.added == ("doc0",)  # succeeded on its third attempt
    failed = {f.item: f for f in report.failed}
    assert failed["doc1"].attempts == 3 and failed["doc1"].code == "source_unavailable"
    assert "connection reset" in failed["doc1"].message
    assert failed["doc2"].attempts == 1 and failed["doc2"].code == "corrupt_file"
    assert source.fetches.count("doc2") == 1  # a permanent error is not retried


def test_failed_items_are_tried_again_next_sync(source: _Source, fake_rag: Any) -> None:
    _fill(source, 2)
    source.corrupt = {"doc1"}
    runner = _runner(fake_rag)
    assert [f.item for f in runner.sync("mem").failed] == ["doc1"]
    source.corrupt.clear()
    report = runner.sync("mem")
    assert report.added == ("doc1",) and report.fetched == 1


def test_a_killed_sync_resumes_with_the_items_not_done(source: _Source, fake_rag: Any) -> None:
    _fill(source, 10)
    source.crash_at = 7
    runner = _runner(fake_rag, batch_size=3)
    with pytest.raises(_Crash):
        runner.sync("mem")
    assert runner.source("mem").last_status == "failed"
    assert len(fake_rag.documents("kb")) == 6  # two batches were committed
    source.crash_at = None
    source.fetches.clear()
    report = _runner(fake_rag, batch_size=3).sync("mem")
    assert sorted(source.fetches) == ["doc6", "doc7", "doc8", "doc9"]
    assert len(report.added) == 4 and report.unchanged == 6
    assert len(fake_rag.documents("kb")) == 10


def test_cursor_is_persisted_and_passed_to_the_next_sync(source: _Source, fake_rag: Any) -> None:
    _fill(source, 1)
    _runner(fake_rag).sync("mem")
    assert _runner(fake_rag).source("mem").cursor == "c1"
    _runner(fake_rag).sync("mem")
    assert source.cursors == [None, "c1"]


def test_changed_version_refetches_and_same_content_is_unchanged(
    source: _Source, fake_rag: Any
) -> None:
    _fill(source, 2)
    runner = _runner(fake_rag)
    runner.sync("mem")
    source.items["doc0"] = ("v2", source.items["doc0"][1])  # touched, same text
    source.items["doc1"] = ("v2", "entirely new text")
    source.fetches.clear()
    report = runner.sync("mem")
    assert sorted(source.fetches) == ["doc0", "doc1"]
    assert report.updated == ("doc1",) and report.unchanged == 1


def test_removing_a_source_deletes_its_documents(source: _Source, fake_rag: Any) -> None:
    _fill(source, 3)
    runner = _runner(fake_rag)
    runner.sync("mem")
    assert runner.remove_source("mem") == 3
    assert fake_rag.documents("kb") == []
    with pytest.raises(UnknownSourceError, match="mem"):
        runner.sync("mem")


def test_sources_are_named_once_and_names_are_checked(source: _Source, fake_rag: Any) -> None:
    runner = _runner(fake_rag)
    with pytest.raises(ConflictError, match="mem"):
        runner.add_source("mem", "memory-test", "kb", {"store": "m"})
    with pytest.raises(ValidationError, match="bad name"):
        runner.add_source("bad name", "memory-test", "kb", {"store": "m"})
    with pytest.raises(ValidationError, match="interval"):
        runner.add_source("other", "memory-test", "kb", {"store": "m"}, interval_s=0)


def test_a_running_sync_refuses_a_second_one(source: _Source, fake_rag: Any) -> None:
    runner = _runner(fake_rag)
    info = runner.source("mem")
    runner.store.begin_sync(info.id, stale_after_s=3600)
    with pytest.raises(ConflictError, match="running"):
        runner.sync("mem")
    # A sync marked running long ago (a dead process) does not block forever.
    assert _runner(fake_rag, stale_after_s=0).sync("mem").listed == 0


def test_history_keeps_each_report(source: _Source, fake_rag: Any) -> None:
    _fill(source, 2)
    runner = _runner(fake_rag)
    runner.sync("mem")
    history = runner.store.syncs(runner.source("mem").id)
    assert history[0]["status"] == "succeeded" and len(history[0]["report"]["added"]) == 2


def test_scheduler_syncs_due_sources_only(
    source: _Source, fake_rag: Any, caplog: pytest.LogCaptureFixture
) -> None:
    _fill(source, 1)
    runner = connectors.SyncRunner(fake_rag, backoff_s=0.001)
    runner.add_source("hourly", "memory-test", "kb", {"store": "m"}, interval_s=3600)
    runner.add_source("manual", "memory-test", "kb2", {"store": "m"})
    now = [dt.datetime.now(dt.UTC).replace(tzinfo=None)]
    sched = connectors.Scheduler(runner, clock=lambda: now[0])
    assert sched.due() == ["hourly"]
    results = sched.run_pending()
    assert list(results) == ["hourly"] and not isinstance(results["hourly"], str)
    assert sched.due() == []
    now[0] += dt.timedelta(hours=2)
    assert sched.due() == ["hourly"]
    SOURCES.clear()  # the source breaks: the scheduler logs it and carries on
    with caplog.at_level(logging.WARNING):
        results = sched.run_pending()
    assert "KeyError" in str(results["hourly"]) and "hourly" in caplog.text
    SOURCES["m"] = source


def test_scheduler_thread_starts_and_stops(source: _Source, fake_rag: Any) -> None:
    _fill(source, 1)
    runner = connectors.SyncRunner(fake_rag, backoff_s=0.001)
    runner.add_source("fast", "memory-test", "kb", {"store": "m"}, interval_s=0.05)
    sched = connectors.Scheduler(runner, poll_s=0.05)
    sched.start()
    try:
        deadline = dt.datetime.now() + dt.timedelta(seconds=10)
        while len(runner.store.syncs(runner.source("fast").id)) < 2:
            assert dt.datetime.now() < deadline, "the scheduler did not sync twice"
            import time

            time.sleep(0.05)
    finally:
        sched.stop()
    assert len(fake_rag.documents("kb")) == 1


def test_a_source_that_lost_most_items_is_not_emptied(source: _Source, fake_rag: Any) -> None:
    _fill(source, 30)
    runner = _runner(fake_rag)
    runner.sync("mem")
    source.items.clear()  # e.g. a share that is not mounted lists nothing
    with pytest.raises(ConflictError, match="30 of the 30") as err:
        runner.sync("mem")
    assert "--allow-mass-delete" in err.value.message
    assert len(fake_rag.documents("kb")) == 30
    for i in range(10):  # two thirds gone is still refused
        source.items[f"doc{i}"] = ("v1", f"document {i} about topic {i} version v1")
    with pytest.raises(ConflictError):
        runner.sync("mem")
    report = runner.sync("mem", allow_mass_delete=True)
    assert len(report.deleted) == 20 and len(fake_rag.documents("kb")) == 10
