"""``python -m mlgate_devkit.github_stand_in``: GitHub on 127.0.0.1, to try mlgate's GitHub side locally.

Approvals, team memberships, alerts (issues), retraining pull requests, PR comments and check runs:
what mlgate asks GitHub for, answered by the stand-in the tests use (every request and response is
checked against GitHub's OpenAPI description). It prints the ``export`` lines that point mlgate at
it, logs every write as it happens, and runs until Ctrl-C.

A pull request mlgate names that the stand-in does not know yet (``--pr 7``) is made up on first
use from the checkout's current branch: its head is that branch's commit, its author ``--author``.
Each ``--approver`` can push and approves every pull request's head commit; each ``--team`` member
can push and belongs to the team (``OWNER/SLUG``, the repo's owner unless the flag names one).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from mlgate_devkit.github_stand_in import FakeGitHub

REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
PULL = re.compile(r"^/repos/[^/]+/[^/]+/pulls/(\d+)(/(reviews|files))?$")


def _git(checkout: Path, *args: str) -> str | None:
    """``git ARGS`` in the checkout: its output, or None when git cannot answer (no repo, no commit)."""
    done = subprocess.run(["git", *args], cwd=checkout, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


class StandIn(FakeGitHub):
    """The stand-in as a program: approvers and teams from flags, pull requests from a checkout, a log."""

    def __init__(
        self,
        token: str,
        repo: str,
        *,
        port: int,
        checkout: Path,
        author: str,
        approvers: list[str],
        record: Path | None,
    ) -> None:
        """Serve ``repo``; pull requests come from ``checkout``; state goes to ``record`` after each request."""
        super().__init__(token, repo, port=port)
        self.checkout, self.author, self.approvers, self.record = checkout, author, approvers, record
        self._write_lock = threading.Lock()
        self._shown = 0  # violations already printed
        for login in approvers:
            self.grant(login, "write")  # an approval counts only from an account that can push

    def _made_up_pull(self, number: int) -> None:
        """Pull request ``number`` from the checkout's current branch, approved by the approvers."""
        head = _git(self.checkout, "rev-parse", "HEAD") or "0" * 40
        branch = _git(self.checkout, "rev-parse", "--abbrev-ref", "HEAD") or "HEAD"
        pr = self.set_pull(number, author=self.author, head_sha=head)
        pr["head"]["ref"] = branch
        pr["state"] = "open"
        print(f"  PR #{number} made up from {branch} at {head[:12]}, by {self.author}", flush=True)
        self._approve(number, head)

    def _approve(self, number: int, head: str) -> None:
        for login in self.approvers:
            self.add_review(number, login=login, commit_id=head, association="MEMBER")
            print(f"  PR #{number}: {login} approves {head[:12]}", flush=True)

    def handle(self, method: str, raw_path: str, headers: Any, raw_body: bytes) -> Any:
        """Answer as :class:`FakeGitHub` does; make up unknown pull requests first, log writes after."""
        path = raw_path.split("?", 1)[0]
        with self._write_lock:
            if (found := PULL.match(path)) and int(found.group(1)) not in self.pulls and method == "GET":
                self._made_up_pull(int(found.group(1)))
            status, out_headers, payload = super().handle(method, raw_path, headers, raw_body)
            if method == "POST" and path.endswith("/pulls") and status == 201:
                head = _git(self.checkout, "rev-parse", payload["head"]["ref"]) or payload["head"]["sha"]
                self.set_pull(payload["number"], author=self.author, head_sha=head)
                self._approve(payload["number"], head)
            if method != "GET" or self.violations:
                print(f"{method} {path} → {status}{_what(payload)}", flush=True)
            for violation in self.violations[self._shown :]:
                print(f"  ! not what GitHub's API allows: {violation}", flush=True)
            self._shown = len(self.violations)
            self._write_record()
        return status, out_headers, payload

    def _write_record(self) -> None:
        if self.record is None:
            return
        state = {
            "url": self.url,
            "repo": self.repo,
            "issues": list(self.issues.values()),
            "pulls": list(self.pulls.values()),
            "reviews": {str(n): r for n, r in self.reviews.items()},
            "comments": {str(n): c for n, c in self.comments.items()},
            "check_runs": [run["public"] for run in self.check_runs.values()],
            "dispatches": self.dispatches,
            "refs": self.refs,
            "violations": self.violations,
            "requests": len(self.requests),
        }
        with tempfile.NamedTemporaryFile("w", dir=self.record.parent, delete=False, suffix=".tmp") as out:
            json.dump(state, out, indent=1, default=str)
        os.replace(out.name, self.record)  # readers never see half a file


def _what(payload: Any) -> str:
    """A few words on what a write made: the issue, pull request, comment or check run."""
    if not isinstance(payload, dict):
        return ""
    if "conclusion" in payload and "head_sha" in payload:
        return f": check run {payload['name']!r} on {payload['head_sha'][:12]} {payload.get('conclusion') or ''}"
    if "title" in payload and "number" in payload:
        kind = "pull request" if "head" in payload else "issue"
        return f": {kind} #{payload['number']} {payload['title']!r} ({payload.get('state')})"
    if "issue_url" in payload:
        return f": comment on #{payload['issue_url'].rsplit('/', 1)[-1]}"
    return ""


def _team(value: str, owner: str) -> tuple[str, list[str]]:
    """``SLUG:alice,bob`` or ``ORG/SLUG:alice,bob`` → ("org/slug", logins)."""
    name, sep, logins = value.partition(":")
    members = [login.strip() for login in logins.split(",") if login.strip()]
    if not sep or not name or not members:
        raise argparse.ArgumentTypeError(f"--team {value!r}: give SLUG:LOGIN,LOGIN (e.g. model-risk:alice,bob)")
    return (name if "/" in name else f"{owner}/{name}"), members


def parser() -> argparse.ArgumentParser:
    """The command line: repository, people, where pull requests come from, where state goes."""
    p = argparse.ArgumentParser(
        prog="python -m mlgate_devkit.github_stand_in",
        description="GitHub's REST API on 127.0.0.1 for trying mlgate's approvals, alerts and retraining "
        "pull requests without GitHub. Prints the environment to export, then logs every write until Ctrl-C.",
    )
    p.add_argument("--repo", default="acme/models", help="OWNER/NAME the stand-in serves (default: %(default)s)")
    p.add_argument(
        "--approver",
        action="append",
        default=[],
        metavar="LOGIN",
        help="can push and approves every pull request's head commit (repeatable)",
    )
    p.add_argument(
        "--team",
        action="append",
        default=[],
        metavar="SLUG:LOGIN,...",
        help="team members (OWNER/SLUG, the repo's owner unless given as ORG/SLUG); they can push (repeatable)",
    )
    p.add_argument("--author", default="data-scientist", help="author of the pull requests (default: %(default)s)")
    p.add_argument(
        "--checkout",
        type=Path,
        default=Path.cwd(),
        help="git checkout whose current branch a pull request mlgate names is made up from (default: here)",
    )
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--token", help="the token mlgate must send (default: a random one, printed)")
    p.add_argument("--record", type=Path, metavar="FILE", help="write what it holds as JSON after every request")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the stand-in until Ctrl-C (or SIGTERM); 2 on bad flags."""
    args = parser().parse_args(argv)
    if not REPO.match(args.repo):
        parser().error(f"--repo {args.repo!r}: give OWNER/NAME")
    owner = args.repo.split("/")[0]
    try:
        teams = [_team(value, owner) for value in args.team]
    except argparse.ArgumentTypeError as err:
        parser().error(str(err))
    token = args.token or f"ghs_standin{secrets.token_hex(16)}"
    try:
        hub = StandIn(
            token,
            args.repo,
            port=args.port,
            checkout=args.checkout.resolve(),
            author=args.author,
            approvers=args.approver,
            record=args.record.resolve() if args.record else None,
        )
    except OSError as err:
        print(f"error: cannot listen on 127.0.0.1:{args.port}: {err.strerror}", file=sys.stderr)
        return 2
    for team, members in teams:
        for login in members:
            hub.add_team_member(team, login)
            hub.grant(login, "write")
    hub._write_record()
    hub.start()
    print(f"GitHub stand-in for {args.repo} on {hub.url} (a local fake: nothing reaches GitHub)")
    print("Point mlgate at it:")
    print(f"  export GITHUB_API_URL={hub.url}")
    print(f"  export GITHUB_TOKEN={token}")
    print(f"  export GITHUB_REPOSITORY={args.repo}")
    people = [f"approvers: {', '.join(args.approver) or 'none'}"]
    people += [f"team {team}: {', '.join(members)}" for team, members in teams]
    print("; ".join(people) + f"; pull requests by {args.author}, from {hub.checkout}")
    print("Ctrl-C to stop.", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: stop serving, say so, exit 0
        stop.wait()
    hub.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
