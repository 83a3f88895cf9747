"""Files of a Git repository at a ref, synced incrementally by commit.

The repository is cloned (bare) into the source's work folder and fetched on each sync;
the cursor is the commit last synced. When the new commit descends from it, only the paths
``git diff`` names are listed; otherwise (first sync, history rewritten) every file is. The
version of a file is its blob id. Access lists come from ``path.acl`` sidecar files or the
``acl`` option.
"""

from __future__ import annotations

import subprocess
from pathlib import Path, PurePosixPath

from connectors.base import (
    ACL_SUFFIX,
    Connector,
    ConnectorOptions,
    Fetched,
    Item,
    Listing,
    parse_acl,
)
from connectors.registry import register_connector
from rsi_rag.errors import ConfigError, IngestError, SourceUnavailableError

__all__ = ["GitConnector", "GitOptions"]


class GitOptions(ConnectorOptions):
    """Options of the ``git`` connector.

    Attributes:
        repo: A clone URL or a local path.
        ref: Branch, tag or commit to sync.
        suffixes: File endings to sync.
        timeout_s: Limit for each git command.
    """

    repo: str
    ref: str = "HEAD"
    suffixes: tuple[str, ...] = (
        ".csv",
        ".htm",
        ".html",
        ".json",
        ".md",
        ".markdown",
        ".rst",
        ".txt",
    )
    timeout_s: float = 120.0


@register_connector
class GitConnector(Connector):
    """Sync the files of one ref of a repository."""

    type_name = "git"
    Options = GitOptions

    @property
    def opts(self) -> GitOptions:
        assert isinstance(self.options, GitOptions)
        return self.options

    def _git(self, *args: str, input_: bytes | None = None) -> bytes:
        mirror = self._mirror()
        cmd = ["git", "--git-dir", str(mirror), *args]
        try:
            done = subprocess.run(
                cmd, input=input_, capture_output=True, timeout=self.opts.timeout_s, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise SourceUnavailableError(
                f"git {' '.join(args[:2])} on {self.opts.repo!r} timed out after "
                f"{self.opts.timeout_s}s"
            ) from exc
        if done.returncode != 0:
            err = done.stderr.decode("utf-8", "replace").strip()
            raise SourceUnavailableError(f"git {' '.join(args[:2])} on {self.opts.repo!r}: {err}")
        return done.stdout

    def _mirror(self) -> Path:
        if self.work_dir is None:
            raise ConfigError("the git connector needs a work folder for its clone")
        return self.work_dir / "mirror.git"

    def _update(self) -> str:
        mirror = self._mirror()
        if not (mirror / "HEAD").exists():
            mirror.parent.mkdir(parents=True, exist_ok=True)
            done = subprocess.run(
                ["git", "clone", "--bare", "--quiet", self.opts.repo, str(mirror)],
                capture_output=True,
                timeout=self.opts.timeout_s,
                check=False,
            )
            if done.returncode != 0:
                err = done.stderr.decode("utf-8", "replace").strip()
                raise SourceUnavailableError(
                    f"cannot clone {self.opts.repo!r}: {err}; check the 'repo' option"
                )
        else:
            self._git(
                "fetch",
                "--quiet",
                "--prune",
                "--force",
                "origin",
                "+refs/heads/*:refs/heads/*",
                "+refs/tags/*:refs/tags/*",
            )
        try:
            return (
                self._git("rev-parse", "--verify", f"{self.opts.ref}^{{commit}}").decode().strip()
            )
        except SourceUnavailableError as exc:
            raise SourceUnavailableError(
                f"ref {self.opts.ref!r} does not exist in {self.opts.repo!r}; check the 'ref' "
                "option"
            ) from exc

    def _wanted(self, path: str) -> bool:
        suffixes = tuple(s.lower() for s in self.opts.suffixes)
        parts = PurePosixPath(path).parts
        return path.lower().endswith(suffixes) and not any(p.startswith(".") for p in parts)

    def _tree(self, commit: str) -> dict[str, tuple[str, int]]:
        out = self._git("ls-tree", "-r", "-l", "-z", commit)
        tree: dict[str, tuple[str, int]] = {}
        for entry in out.split(b"\0"):
            if not entry:
                continue
            meta, _, path = entry.decode("utf-8", "surrogateescape").partition("\t")
            _mode, kind, blob, size = meta.split()
            if kind == "blob":
                tree[path] = (blob, int(size) if size.isdigit() else 0)
        return tree

    def _changed(self, old: str, new: str) -> set[str] | None:
        """Paths changed between two commits, or ``None`` when ``old`` is not an ancestor."""
        try:
            self._git("merge-base", "--is-ancestor", old, new)
        except SourceUnavailableError:
            return None
        out = self._git("diff", "--name-only", "--no-renames", "-z", old, new)
        return {p for p in out.decode("utf-8", "surrogateescape").split("\0") if p}

    def _list(self, cursor: str | None) -> Listing:
        head = self._update()
        tree = self._tree(head)
        changed = self._changed(cursor, head) if cursor else None
        if changed is not None:
            # A changed sidecar re-lists the file it governs.
            changed |= {p[: -len(ACL_SUFFIX)] for p in changed if p.endswith(ACL_SUFFIX)}
            paths = sorted(p for p in changed if p in tree and self._wanted(p))
        else:
            paths = sorted(p for p in tree if self._wanted(p))
        items = []
        for path in paths:
            blob, size = tree[path]
            sidecar = tree.get(path + ACL_SUFFIX)
            version = blob if sidecar is None else f"{blob}+{sidecar[0]}"
            items.append(
                Item(
                    id=f"{self.opts.repo}#{path}",
                    version=version,
                    name=path,
                    size=size,
                    acl=tuple(self.opts.acl) if sidecar is None else None,
                    metadata={
                        "path": path,
                        "commit": head,
                        "ref": self.opts.ref,
                        "file_type": PurePosixPath(path).suffix.lower().lstrip("."),
                    },
                )
            )
        present = frozenset(f"{self.opts.repo}#{p}" for p in tree if self._wanted(p))
        return Listing(items, cursor=head, complete=changed is None, present=present)

    def _fetch(self, item: Item) -> Fetched:
        blob = item.version.split("+")[0]
        try:
            data = self._git("cat-file", "blob", blob)
        except SourceUnavailableError as exc:
            raise IngestError(
                f"{item.id}: blob {blob} cannot be read: {exc.message}", source=item.id
            ) from exc
        acl = None
        if item.acl is None:
            side = item.version.split("+")[1]
            acl = parse_acl(self._git("cat-file", "blob", side).decode("utf-8", "replace"))
        return Fetched(data, item.name, acl)
