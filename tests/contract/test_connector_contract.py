"""The contract every connector keeps, run against each one's real source.

Incremental sync (only changed items fetched), deletions reaching retrieval, access lists
reaching every chunk and filtering retrieval, one bad item reported while the rest sync,
and a clear error when the source cannot be reached.
"""

from __future__ import annotations

from typing import Any

import pytest

import connectors
from rsi_rag.errors import SourceError
from tests.contract.connector_harnesses import Harness

pytestmark = pytest.mark.integration


def _sync(rag: Any, h: Harness, *, name: str = "src") -> connectors.SyncReport:
    runner = connectors.SyncRunner(rag, backoff_s=0.01)
    if name not in {s.name for s in runner.sources()}:
        runner.add_source(name, h.type_name, "kb", h.options())
    return runner.sync(name)


def _sources(rag: Any, principals: list[str] | None = None) -> set[str]:
    hits = rag.retrieve("alpha beta gamma delta policy", "kb", k=50, principals=principals)
    return {h.source for h in hits}


def _by_name(h: Harness, report_ids: tuple[str, ...], *names: str) -> bool:
    """The report's ids are exactly the items ``names`` (ids are source-specific URIs)."""
    return len(report_ids) == len(names) and all(
        any(h.key(n) in rid for rid in report_ids) for n in names
    )


def test_first_sync_adds_all_and_unchanged_resync_fetches_nothing(
    harness: Harness, fake_rag: Any
) -> None:
    for name in ("alpha", "beta", "gamma"):
        harness.put(name, f"The {name} policy covers {name} travel and {name} expenses.")
    harness.publish()
    first = _sync(fake_rag, harness)
    assert _by_name(harness, first.added, "alpha", "beta", "gamma"), first
    assert not first.failed and first.fetched == 3
    assert len(fake_rag.documents("kb")) == 3
    again = _sync(fake_rag, harness)
    assert again.fetched == 0 and again.unchanged == 3, again
    assert not (again.added or again.updated or again.deleted)


def test_changes_and_deletions_are_incremental(harness: Harness, fake_rag: Any) -> None:
    for name in ("alpha", "beta", "gamma"):
        harness.put(name, f"The {name} policy text, first edition.")
    harness.publish()
    _sync(fake_rag, harness)
    gone = {d.source for d in fake_rag.documents("kb") if harness.key("gamma") in d.source}
    harness.put("beta", "The beta policy text, second edition with more words in it.")
    harness.remove("gamma")
    harness.put("delta", "The delta policy text, brand new.")
    harness.publish()
    report = _sync(fake_rag, harness)
    assert _by_name(harness, report.updated, "beta"), report
    assert _by_name(harness, report.added, "delta"), report
    assert _by_name(harness, report.deleted, "gamma"), report
    assert report.fetched == 2, report
    assert not report.failed
    # Deletion end to end: the removed item is gone from the catalog and from retrieval.
    assert not gone & {d.source for d in fake_rag.documents("kb")}
    assert gone and not gone & _sources(fake_rag)
    assert any("second edition" in h.text for h in fake_rag.retrieve("beta second edition", "kb"))


def test_access_lists_reach_chunks_and_filter_retrieval(harness: Harness, fake_rag: Any) -> None:
    alice = harness.principal("alice")
    harness.put("alpha", "The alpha policy is public to staff.")
    harness.put("beta", "The beta policy is secret.", acl=(alice,) if harness.item_acl else None)
    harness.publish()
    assert not _sync(fake_rag, harness).failed
    acl = {
        ("beta" if harness.key("beta") in d.source else "alpha"): d.acl
        for d in fake_rag.documents("kb")
    }
    assert acl["alpha"] == ("staff",)
    assert acl["beta"] == ((alice,) if harness.item_acl else ("staff",))
    staff, as_alice = _sources(fake_rag, ["staff"]), _sources(fake_rag, [alice])
    assert _sources(fake_rag, ["mallory"]) == set()
    if harness.item_acl:
        assert len(staff) == 1 and harness.key("alpha") in next(iter(staff))
        assert len(as_alice) == 1 and harness.key("beta") in next(iter(as_alice))
    else:
        assert len(staff) == 2 and as_alice == set()


def test_bad_item_is_reported_and_the_rest_synced(harness: Harness, fake_rag: Any) -> None:
    harness.put("alpha", "The alpha policy is fine.")
    harness.put("broken", b"\xff\xfe\xfa not utf-8 \xc3\x28")
    harness.publish()
    report = _sync(fake_rag, harness)
    assert _by_name(harness, report.added, "alpha"), report
    assert len(report.failed) == 1, report
    failure = report.failed[0]
    assert harness.key("broken") in failure.item and failure.code == "corrupt_file"
    assert harness.key("broken") in failure.message and "UTF-8" in failure.message


def test_unreachable_source_raises_a_clear_error(harness: Harness, fake_rag: Any) -> None:
    runner = connectors.SyncRunner(fake_rag)
    runner.add_source("down", harness.type_name, "kb", harness.broken_options())
    with pytest.raises(SourceError) as err:
        runner.sync("down")
    assert err.value.message
    assert runner.source("down").last_status == "failed"
