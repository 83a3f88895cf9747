"""Git (incremental by commit), web (sitemap and crawl within allowed hosts) and the
Confluence, Notion and Slack export formats, against real repositories, servers and files."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

import connectors
from connectors.testing import HttpServer
from rsi_rag.errors import SourceUnavailableError

pytestmark = pytest.mark.integration


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=T", "-c", "user.email=t@x", *args],
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def _runner(rag: Any, name: str, type_name: str, **options: Any) -> connectors.SyncRunner:
    runner = connectors.SyncRunner(rag, backoff_s=0.001)
    runner.add_source(name, type_name, "kb", options)
    return runner


def test_git_lists_only_paths_changed_since_the_last_commit(tmp_path: Path, fake_rag: Any) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    for i in range(5):
        (repo / f"doc{i}.md").write_text(f"document {i}")
    (repo / "code.py").write_text("print('not synced')")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "one")
    runner = _runner(fake_rag, "repo", "git", repo=str(repo), ref="main")
    first = runner.sync("repo")
    assert len(first.added) == 5 and first.cursor == _git(repo, "rev-parse", "HEAD")
    (repo / "doc1.md").write_text("document 1, edited")
    (repo / "doc2.md").unlink()
    (repo / "doc1.md.acl").write_text("alice")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "two")
    report = runner.sync("repo")
    assert report.listed == 1 and report.fetched == 1, report  # only doc1 was listed
    assert [u.split("#")[1] for u in report.updated] == ["doc1.md"]
    assert [u.split("#")[1] for u in report.deleted] == ["doc2.md"]
    assert {d.metadata["path"]: d.acl for d in fake_rag.documents("kb")}["doc1.md"] == ("alice",)
    # History rewritten (the cursor is no ancestor): a full listing, unchanged blobs skipped.
    _git(repo, "checkout", "-q", "--orphan", "rewrite")
    _git(repo, "commit", "-qm", "rewritten")
    _git(repo, "branch", "-f", "main", "rewrite")
    report = runner.sync("repo")
    assert report.listed == 4 and report.fetched == 0


def test_git_missing_ref_is_a_clear_error(tmp_path: Path, fake_rag: Any) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "init")
    runner = _runner(fake_rag, "repo", "git", repo=str(repo), ref="release-9")
    with pytest.raises(SourceUnavailableError, match="release-9"):
        runner.sync("repo")


@pytest.fixture
def sites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("RSI_RAG_WEB_PRIVATE_HOSTS", "127.0.0.1")
    main_root, other_root = tmp_path / "main", tmp_path / "other"
    main_root.mkdir()
    other_root.mkdir()
    other = HttpServer(other_root)
    main = HttpServer(main_root)
    (other_root / "index.html").write_text("<p>outside page</p>")
    (main_root / "index.html").write_text(
        f'<a href="/a.html">a</a> <a href="b.html#top">b</a> <a href="{other.url}/index.html">x</a>'
        ' <a href="/private/secret.html">s</a> <a href="/missing.html">m</a> <p>home page</p>'
    )
    (main_root / "a.html").write_text('<p>page a about apples</p><a href="/b.html">b</a>')
    (main_root / "b.html").write_text("<p>page b about bananas</p>")
    (main_root / "private").mkdir()
    (main_root / "private" / "secret.html").write_text("<p>disallowed by robots</p>")
    (main_root / "robots.txt").write_text("User-agent: *\nDisallow: /private/\n")
    yield main, other
    main.stop()
    other.stop()


def test_crawl_stays_within_allowed_hosts_and_honours_robots(sites: Any, fake_rag: Any) -> None:
    main, other = sites
    runner = _runner(fake_rag, "site", "web", start_urls=f"{main.url}/index.html")
    report = runner.sync("site")
    paths = sorted(u.removeprefix(main.url) for u in report.added)
    assert paths == ["/a.html", "/b.html", "/index.html"]
    assert not any(other.url in d.source for d in fake_rag.documents("kb"))
    (failure,) = report.failed
    assert failure.item.endswith("/missing.html") and "404" in failure.message
    again = runner.sync("site")
    assert not (again.added or again.updated) and again.unchanged == 3


def test_crawl_with_the_other_host_allowed_follows_it(sites: Any, fake_rag: Any) -> None:
    main, other = sites
    hosts = f"{main.url.split('//')[1]},{other.url.split('//')[1]}"
    runner = _runner(
        fake_rag, "site", "web", start_urls=f"{main.url}/index.html", allowed_hosts=hosts
    )
    report = runner.sync("site")
    assert f"{other.url}/index.html" in report.added


def test_slack_private_channels_carry_their_members(tmp_path: Path, fake_rag: Any) -> None:
    root = tmp_path / "slack"
    for folder in ("general", "leads"):
        (root / folder).mkdir(parents=True)
    (root / "users.json").write_text(
        json.dumps(
            [{"id": "U1", "name": "ann", "real_name": "Ann Lee"}, {"id": "U2", "name": "bo"}]
        )
    )
    (root / "channels.json").write_text(json.dumps([{"id": "C1", "name": "general"}]))
    (root / "groups.json").write_text(
        json.dumps([{"id": "G1", "name": "leads", "members": ["U1"]}])
    )
    (root / "general" / "2024-03-01.json").write_text(
        json.dumps([{"type": "message", "user": "U2", "text": "hello <@U1>, lunch?", "ts": "1"}])
    )
    (root / "leads" / "2024-03-01.json").write_text(
        json.dumps(
            [{"type": "message", "user": "U1", "text": "reorg plan is confidential", "ts": "1"}]
        )
    )
    runner = _runner(fake_rag, "slack", "slack", path=str(root), acl="slack:everyone")
    assert len(runner.sync("slack").added) == 2
    docs = {d.metadata["channel"]: d for d in fake_rag.documents("kb")}
    assert docs["leads"].acl == ("slack:U1",) and docs["general"].acl == ("slack:everyone",)
    hits = fake_rag.retrieve("lunch", "kb", k=5, principals=["slack:everyone"])
    assert [h.text for h in hits] and "bo: hello @Ann Lee, lunch?" in hits[0].text
    as_bo = fake_rag.retrieve("reorg plan", "kb", k=5, principals=["slack:U2"])
    as_ann = fake_rag.retrieve("reorg plan", "kb", k=5, principals=["slack:U1"])
    assert all("reorg" not in h.text for h in as_bo)
    assert any("reorg" in h.text for h in as_ann)


def test_notion_zip_pages_and_databases(tmp_path: Path, fake_rag: Any) -> None:
    export = tmp_path / "export.zip"
    pid, did = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
    with zipfile.ZipFile(export, "w") as z:
        z.writestr(f"Wiki {pid}.md", "# Wiki\n\nOnboarding steps for new hires.")
        z.writestr(f"Wiki {pid}/Tasks {did}.csv", "Name,Status\nLaptop setup,Done\n")
        z.writestr(f"Wiki {pid}/Tasks {did}_all.csv", "Name,Status\nLaptop setup,Done\n")
    runner = _runner(fake_rag, "notion", "notion", path=str(export))
    report = runner.sync("notion")
    assert sorted(report.added) == [f"notion:{pid}", f"notion:{did}"]
    kinds = {d.metadata["title"]: d.metadata["kind"] for d in fake_rag.documents("kb")}
    assert kinds == {"Wiki": "page", "Tasks": "database"}


def test_confluence_export_keeps_the_page_body_only(tmp_path: Path, fake_rag: Any) -> None:
    space = tmp_path / "export" / "OPS"
    space.mkdir(parents=True)
    (space / "index.html").write_text("<p>index</p>")
    (space / "Runbook_98765.html").write_text(
        "<html><head><title>OPS : Runbook</title></head><body><div id='breadcrumbs'>Home / "
        "Ops</div><div id='main-content' class='wiki-content'><p>Restart the queue first.</p>"
        "</div><div id='footer'>Generated by Confluence</div></body></html>"
    )
    runner = _runner(fake_rag, "conf", "confluence", path=str(tmp_path / "export"))
    assert runner.sync("conf").added == ("confluence:OPS/98765",)
    (hit,) = fake_rag.retrieve("restart queue", "kb", k=1)
    assert hit.text.startswith("Runbook") and "Restart the queue first." in hit.text
    assert "Generated by" not in hit.text and "Home" not in hit.text
