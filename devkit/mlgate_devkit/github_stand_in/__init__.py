"""A fake GitHub REST server that validates every request and response against the OpenAPI.

Stdlib ``http.server`` in a thread on 127.0.0.1. Each request is matched to an operation of
``github-openapi-subset.json`` (method + path template); its JSON body is validated against
``requestBody`` and every JSON response against ``responses[status]`` (OpenAPI 3.0
``nullable`` is rewritten to a JSON-Schema type union, ``$ref``s resolve through a
``referencing`` registry). Invalid requests get a 422 and are recorded in ``violations``;
invalid responses are recorded too — tests assert ``violations == []``.

Response objects are built from real captured GitHub payloads (``rest-responses/``,
``events/``) so they look like GitHub's.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

HERE = Path(__file__).parent
SPEC_URI = "urn:github-openapi-subset"
LOST = -1  # a "status" that makes the handler close the connection without answering
BOT_LOGIN, BOT_ID = "github-actions[bot]", 41898282  # who a GitHub Actions GITHUB_TOKEN writes as


def _load(rel: str) -> Any:
    return json.loads((HERE / rel).read_text())


def _to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema objects → JSON Schema 2020-12 (nullable, absolute $refs)."""
    if isinstance(node, list):
        return [_to_json_schema(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _to_json_schema(v) for k, v in node.items() if k not in ("nullable", "example")}
    if isinstance(out.get("$ref"), str) and out["$ref"].startswith("#"):
        out["$ref"] = SPEC_URI + out["$ref"]
    if node.get("nullable") is True:
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [{"type": "null"}, out]}
    return out


class OpenAPI:
    """The part of GitHub's OpenAPI description the stand-in serves: routing and validation."""

    def __init__(self, path: Path = HERE / "github-openapi-subset.json") -> None:
        """Load the description at ``path`` as JSON Schema and compile a route per operation."""
        raw = json.loads(path.read_text())
        self.doc = _to_json_schema(raw)
        self.registry = Registry().with_resource(
            SPEC_URI, Resource.from_contents(self.doc, default_specification=DRAFT202012)
        )
        self.routes = []
        for template, item in self.doc["paths"].items():
            # a git ref name holds slashes (`tags/v1`, `heads/main`): GitHub takes the rest of the path
            pattern = re.sub(r"\{ref\}$", r".+", template) if "/git/" in template else template
            pattern = re.sub(r"\{[^}]+\}", r"[^/]+", pattern)
            for method, op in item.items():
                if method in ("get", "post", "patch", "put", "delete"):
                    self.routes.append((method.upper(), re.compile(f"^{pattern}$"), template, op))

    def operation(self, method: str, path: str) -> tuple[str, dict] | None:
        """The path template and operation that serve ``method`` ``path``, or None."""
        for m, rx, template, op in self.routes:
            if m == method and rx.match(path):
                return template, op
        return None

    def _deref(self, node: dict) -> dict:
        while "$ref" in node:
            node = self.registry.resolver().lookup(node["$ref"]).contents
        return node

    def errors(self, schema: dict, instance: Any) -> list[str]:
        """Why ``instance`` does not fit ``schema``, one line per error (empty when it fits)."""
        validator = Draft202012Validator(schema, registry=self.registry)
        out = []
        for e in sorted(validator.iter_errors(instance), key=lambda e: list(e.path)):
            where = "/".join(map(str, e.absolute_path)) or "<root>"
            text = f"{where}: {e.message[:300]}"
            if e.context:  # oneOf/anyOf: say why each alternative failed
                text += (
                    " ["
                    + "; ".join(f"{'/'.join(map(str, c.absolute_schema_path))}: {c.message[:150]}" for c in e.context)
                    + "]"
                )
            out.append(text)
        return out

    def request_schema(self, op: dict) -> dict | None:
        """The JSON Schema of the operation's request body, or None when it takes none."""
        body = op.get("requestBody")
        if not body:
            return None
        return self._deref(body)["content"]["application/json"]["schema"]

    def response_schema(self, op: dict, status: int) -> dict | None:
        """The JSON Schema of the ``status`` response, or None when it has no JSON body."""
        resp = op["responses"].get(str(status))
        if resp is None:
            return None
        content = self._deref(resp).get("content", {})
        media = content.get("application/json")
        return media["schema"] if media else None


@functools.cache
def _spec() -> OpenAPI:
    return OpenAPI()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeGitHub:
    """In-memory GitHub for one repo; ``url`` is the API base URL."""

    def __init__(self, token: str, repo: str = "octo-org/models", page_size_cap: int = 100, port: int = 0):
        """Serve ``repo`` to ``token`` on 127.0.0.1:``port`` (0: a free one), ``page_size_cap`` items a page."""
        self.token = token
        self.repo = repo
        self.spec = _spec()
        self.violations: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.comments: dict[int, list[dict]] = {}
        self.check_runs: dict[int, dict] = {}
        self.pulls: dict[int, dict] = {}
        self.reviews: dict[int, list[dict]] = {}
        self.files: dict[int, list[dict]] = {}
        self.team_members: dict[tuple[str, str], dict[str, str]] = {}  # (org, team) -> login -> state
        # login -> (permission, role_name): GET /collaborators/{login}/permission; anyone else has "none"
        self.permissions: dict[str, tuple[str, str]] = {}
        self.user_ids: dict[str, int] = {}  # login -> the account id GitHub knows it by now (see user_id)
        self.refs: dict[str, str] = {}  # "refs/tags/credit#production#1" -> commit sha
        self.dispatches: list[dict[str, Any]] = []  # every repository_dispatch request body, in order
        # Issues (not pull requests: GitHub's issue listing also returns pull requests, this one
        # does not — pulls live in `pulls`). Issue and pull request numbers share one sequence.
        self.issues: dict[int, dict] = {}
        self.labels: dict[str, dict] = {}  # repo labels by name; an unknown name on an issue creates one
        self.assignable: set[str] | None = None  # logins an issue may be assigned to; None: anyone
        self.page_size_cap = page_size_cap
        self._faults: list[dict] = []
        self._lost: list[str] = []  # how the answers of the next POSTs are lost (see lose_next)
        self._next_id = 1000
        self._lock = threading.Lock()
        pr_event = _load("events/pull_request.opened.octokit.json")
        self._user = {k: v for k, v in pr_event["sender"].items() if k not in ("user_view_type",)}
        # The token's identity: what a GitHub Actions GITHUB_TOKEN writes as (comments made through the API).
        self.bot = self._simple_user(BOT_LOGIN) | {"id": BOT_ID, "node_id": "MDM6Qm90NDE4OTgyODI=", "type": "Bot"}
        self._check_template = _load("events/check_run.completed.octokit.json")["check_run"]
        self._pr_template = _load("rest-responses/github-owners-bot__pulls__pull_request.35.json")
        self._review_template = _load("rest-responses/github-owners-bot__reviews__reviews.35.approved.json")[0]
        self._file_template = _load("rest-responses/github-owners-bot__files__files.35.multiple.json")[0]
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> FakeGitHub:
        """Start serving in a background thread; returns self."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._httpd.shutdown()
        self._httpd.server_close()

    # ----------------------------------------------------------------- setup helpers
    def new_id(self) -> int:
        """A fresh id for a new object (thread-safe)."""
        with self._lock:
            self._next_id += 1
            return self._next_id

    def fail_next(
        self,
        status: int,
        times: int = 1,
        headers: dict | None = None,
        body: Any = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests (of ``method`` only, if given) with ``status``; nothing is done."""
        if body is None:
            body = {
                "message": {
                    401: "Bad credentials",
                    404: "Not Found",
                    422: "Validation Failed",
                    429: "API rate limit exceeded",
                    403: "You have exceeded a secondary rate limit",
                }.get(status, "Server Error"),
                "documentation_url": "https://docs.github.com/rest",
            }
        self._faults.append(
            {"status": status, "times": times, "headers": headers or {}, "body": body, "method": method}
        )

    def lose_next(self, times: int = 1, how: str = "close") -> None:
        """The next ``times`` POSTs take effect, then their answer is lost.

        ``how``: ``"close"`` — the connection is closed without a response (a timeout or a
        reset, as the client sees it); ``"502"`` — a 502 Bad Gateway instead of the 201, as a
        proxy answers when GitHub committed the write but the proxy lost the backend's answer.
        """
        if how not in ("close", "502"):
            raise ValueError(f"how must be 'close' or '502', not {how!r}")
        self._lost.extend([how] * times)

    def add_comment(self, pr: int, body: str, *, login: str | None = None, user: dict | None = None) -> dict:
        """Add a comment to pull request (or issue) ``pr``; the comment as GitHub returns it.

        Written by ``user`` (an account as GitHub shows it), else by ``login`` (a person), else by
        the captured sender (a person too). Comments made through the API are the token's (``bot``).
        """
        cid = self.new_id()
        base = f"{self.url}/repos/{self.repo}/issues"
        now = _now()
        kind = "issues" if pr in self.issues else "pull"
        comment = {
            "id": cid,
            "node_id": f"IC_kwDO{cid}",
            "url": f"{base}/comments/{cid}",
            "html_url": f"https://github.com/{self.repo}/{kind}/{pr}#issuecomment-{cid}",
            "issue_url": f"{base}/{pr}",
            "body": body,
            "user": copy.deepcopy(user) if user else self._simple_user(login),
            "created_at": now,
            "updated_at": now,
            "author_association": "OWNER",
        }
        self.comments.setdefault(pr, []).append(comment)
        if pr in self.issues:
            self.issues[pr]["comments"] = len(self.comments[pr])
            self.issues[pr]["updated_at"] = now
        return comment

    def next_number(self) -> int:
        """The number of the next issue or pull request (one sequence for both, as on GitHub)."""
        return max([*self.pulls, *self.issues], default=0) + 1

    def user_id(self, login: str) -> int:
        """The account id of ``login``: set in ``user_ids`` (a reused login), else derived from the login."""
        if login.lower() in self.user_ids:
            return self.user_ids[login.lower()]
        if login == self._user["login"]:
            return int(self._user["id"])
        return 30_000_000 + sum(map(ord, login)) * 7919 % 9_000_000

    def grant(self, login: str, permission: str = "write") -> None:
        """Give ``login`` a role on the repository: read, triage, write, maintain or admin.

        The permission endpoint answers GitHub's legacy base role (maintain as write, triage as
        read) and the role itself as ``role_name``.
        """
        legacy = {"maintain": "write", "triage": "read"}.get(permission, permission)
        if legacy not in ("admin", "write", "read", "none"):
            raise ValueError(f"no such repository role: {permission!r}")
        self.permissions[login.lower()] = (legacy, permission)

    def _simple_user(self, login: str | None = None) -> dict:
        user = copy.deepcopy(self._user)
        if login and login != user["login"]:
            uid = self.user_id(login)
            old = user["login"]
            for key, value in list(user.items()):
                if isinstance(value, str):
                    user[key] = value.replace(f"/{old}", f"/{login}").replace(str(self._user["id"]), str(uid))
            user.update(login=login, id=uid, node_id=f"U_kgDO{uid}")
        return user

    def label(self, name: str, color: str = "ededed", description: str | None = None) -> dict:
        """The repo label ``name``, created if new (as an issue create or update does on GitHub)."""
        if name not in self.labels:
            lid = self.new_id()
            self.labels[name] = {
                "id": lid,
                "node_id": f"LA_kwDO{lid}",
                "url": f"{self.url}/repos/{self.repo}/labels/{quote(name, safe='')}",
                "name": name,
                "description": description,
                "color": color,
                "default": False,
            }
        return copy.deepcopy(self.labels[name])

    def add_issue(
        self,
        title: str,
        body: str | None = None,
        *,
        labels: list[str] | None = None,
        assignees: list[str] | None = None,
        state: str = "open",
        user: dict | None = None,
    ) -> dict:
        """Add an issue (the next number); the issue as GitHub returns it.

        ``user`` is its author (default: the event's sender, a person); issues opened through the
        API are the token's identity's (:attr:`bot`), as on GitHub.
        """
        number = self.next_number()
        iid = self.new_id()
        base = f"{self.url}/repos/{self.repo}"
        now = _now()
        issue = {
            "id": iid,
            "node_id": f"I_kwDO{iid}",
            "url": f"{base}/issues/{number}",
            "repository_url": base,
            "labels_url": f"{base}/issues/{number}/labels{{/name}}",
            "comments_url": f"{base}/issues/{number}/comments",
            "events_url": f"{base}/issues/{number}/events",
            "html_url": f"https://github.com/{self.repo}/issues/{number}",
            "number": number,
            "state": "open",
            "state_reason": None,
            "title": title,
            "body": body,
            "user": copy.deepcopy(user) if user else self._simple_user(),
            "labels": [],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "active_lock_reason": None,
            "comments": 0,
            "closed_at": None,
            "created_at": now,
            "updated_at": now,
            "closed_by": None,
            "author_association": "OWNER",
            "timeline_url": f"{base}/issues/{number}/timeline",
            "reactions": {
                "url": f"{base}/issues/{number}/reactions",
                "total_count": 0,
                **dict.fromkeys(("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket"), 0),
            },
        }
        self.issues[number] = issue
        self._set_issue_fields(issue, {"labels": labels or [], "assignees": assignees or [], "state": state})
        issue["updated_at"] = issue["created_at"]
        return issue

    def open_issues(self) -> list[dict]:
        """The open issues, oldest first."""
        return [i for _, i in sorted(self.issues.items()) if i["state"] == "open"]

    def _set_issue_fields(self, issue: dict, fields: dict) -> None:
        """Apply the fields of an issue create or update (labels and assignees replace the sets)."""
        for key in ("title", "body"):
            if key in fields and fields[key] is not None:
                issue[key] = str(fields[key])
        if "labels" in fields and fields["labels"] is not None:
            names = [x if isinstance(x, str) else x.get("name", "") for x in fields["labels"]]
            issue["labels"] = [self.label(n) for n in dict.fromkeys(names) if n]
        if "assignees" in fields and fields["assignees"] is not None:
            logins = [x if isinstance(x, str) else x.get("login", "") for x in fields["assignees"]]
            issue["assignees"] = [self._simple_user(login) for login in dict.fromkeys(logins) if login]
            issue["assignee"] = copy.deepcopy(issue["assignees"][0]) if issue["assignees"] else None
        state = fields.get("state")  # state_reason counts only with a change of state (GitHub ignores it otherwise)
        if state and state != issue["state"]:
            issue["state"] = state
            if state == "closed":
                issue["closed_at"] = _now()
                issue["closed_by"] = self._simple_user()
                issue["state_reason"] = fields.get("state_reason") or "completed"
            else:
                issue["closed_at"] = None
                issue["closed_by"] = None
                issue["state_reason"] = "reopened"
        issue["updated_at"] = _now()

    def _unassignable(self, fields: dict) -> dict | None:
        """GitHub's 422 for an assignee who cannot be assigned (when ``assignable`` is set)."""
        if self.assignable is None or not fields.get("assignees"):
            return None
        bad = [a for a in fields["assignees"] if isinstance(a, str) and a.lower() not in self.assignable]
        if not bad:
            return None
        return {
            "message": "Validation Failed",
            "errors": [{"value": b, "resource": "Issue", "field": "assignees", "code": "invalid"} for b in bad],
            "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue",
        }

    def _list_issues(self, path: str, query: dict):
        """GET /issues: the filters state, labels (all of them), creator, assignee; sort and direction."""
        state = query.get("state", ["open"])[0]
        if state not in ("open", "closed", "all"):
            return 422, {}, {"message": "Validation Failed", "documentation_url": "https://docs.github.com/rest"}
        issues = [i for i in self.issues.values() if state == "all" or i["state"] == state]
        if "labels" in query:
            wanted = {n.strip() for n in query["labels"][0].split(",") if n.strip()}
            issues = [i for i in issues if wanted <= {label["name"] for label in i["labels"]}]
        if "creator" in query:
            issues = [i for i in issues if i["user"]["login"].lower() == query["creator"][0].lower()]
        if "assignee" in query:
            who = query["assignee"][0].lower()
            issues = [
                i
                for i in issues
                if (who == "none" and not i["assignees"])
                or (who == "*" and i["assignees"])
                or any(a["login"].lower() == who for a in i["assignees"])
            ]
        sort = query.get("sort", ["created"])[0]
        key = {"created": "number", "updated": "updated_at", "comments": "comments"}.get(sort, "number")
        issues.sort(key=lambda i: (i[key], i["number"]), reverse=query.get("direction", ["desc"])[0] != "asc")
        return self._page(issues, path, query)

    def add_pull(self, number: int) -> dict:
        """Add pull request ``number`` from the recorded template; the pull request."""
        pr = copy.deepcopy(self._pr_template)
        pr["number"] = number
        # this repository's addresses, not the capture's
        pr["html_url"] = f"https://github.com/{self.repo}/pull/{number}"
        pr["url"] = f"{self.url}/repos/{self.repo}/pulls/{number}"
        # fields GitHub made required after the 2019 capture (see rest-responses/SOURCES.md)
        pr.setdefault("auto_merge", None)
        for side in ("base", "head"):
            if pr[side].get("repo") is not None:
                pr[side]["repo"].setdefault("disabled", False)
        self.pulls[number] = pr
        self.reviews.setdefault(number, [])
        self.files.setdefault(number, [])
        return pr

    def add_review(
        self,
        number: int,
        state: str = "APPROVED",
        *,
        login: str | None = None,
        commit_id: str | None = None,
        association: str | None = None,
        submitted_at: str | None = None,
        user_id: int | None = None,
    ) -> dict:
        """A review on PR ``number``, from the captured one, with the fields a test varies.

        The reviewer's account id is :meth:`user_id` of ``login`` unless ``user_id`` is given.
        """
        review = copy.deepcopy(self._review_template)
        review["id"] = self.new_id()
        review["state"] = state
        if login:
            review["user"] = {k: v for k, v in self._simple_user(login).items() if k in review["user"]}
        if user_id is not None:
            review["user"]["id"] = user_id  # an account that held the login before (or one that took it)
        if commit_id:
            review["commit_id"] = commit_id
        if association:
            review["author_association"] = association
        if submitted_at:
            review["submitted_at"] = submitted_at
        self.reviews.setdefault(number, []).append(review)
        return review

    def set_pull(self, number: int, *, author: str | None = None, head_sha: str | None = None) -> dict:
        """Pull request ``number`` (added if new) with the given author and head commit."""
        pr = self.pulls.get(number) or self.add_pull(number)
        if author:
            pr["user"]["login"] = author
        if head_sha:
            pr["head"]["sha"] = head_sha
        return pr

    def add_team_member(self, team: str, login: str, state: str = "active") -> None:
        """Make ``login`` a member of ``team`` ("org/slug"); ``state`` active or pending."""
        org, slug = team.split("/")
        self.team_members.setdefault((org.lower(), slug.lower()), {})[login.lower()] = state

    def add_file(self, number: int, filename: str) -> dict:
        """List ``filename`` among the files pull request ``number`` changes; the file entry."""
        entry = copy.deepcopy(self._file_template)
        entry["filename"] = filename
        self.files.setdefault(number, []).append(entry)
        return entry

    # ----------------------------------------------------------------- request handling
    def handle(self, method: str, raw_path: str, headers: Any, raw_body: bytes):
        """Answer one request as GitHub would: (status, headers, JSON body).

        The request is recorded, and so is any way it breaks GitHub's contract.
        """
        split = urlsplit(raw_path)
        path, query = split.path, parse_qs(split.query)
        body = None
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                body = raw_body.decode(errors="replace")
        self.requests.append({"method": method, "path": path, "query": query, "body": body})

        auth = headers.get("Authorization", "")
        if auth not in (f"Bearer {self.token}", f"token {self.token}"):
            self.violations.append(f"{method} {path}: bad Authorization header")
            return (
                401,
                {},
                {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"},
            )
        for name, want in (
            ("Accept", "application/vnd.github+json"),
            ("X-GitHub-Api-Version", "2022-11-28"),
        ):
            if headers.get(name) != want:
                self.violations.append(f"{method} {path}: header {name}={headers.get(name)!r}")

        found = self.spec.operation(method, path)
        if found is None:
            self.violations.append(f"{method} {path}: no such operation in the OpenAPI subset")
            return (
                404,
                {},
                {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
            )
        template, op = found

        fault = next((f for f in self._faults if f["method"] in (None, method)), None)
        if fault is not None:
            fault["times"] -= 1
            if fault["times"] <= 0:
                self._faults.remove(fault)
            self._check_response(method, template, op, fault["status"], fault["body"])
            return fault["status"], fault["headers"], fault["body"]

        schema = self.spec.request_schema(op)
        if schema is not None:
            errors = self.spec.errors(schema, body)
            if errors:
                self.violations.extend(f"request {method} {template}: {e}" for e in errors)
                return (
                    422,
                    {},
                    {
                        "message": "Invalid request.",
                        "errors": [{"code": "invalid", "message": e} for e in errors],
                        "documentation_url": "https://docs.github.com/rest",
                    },
                )
        elif body is not None:
            self.violations.append(f"{method} {template}: unexpected request body")

        status, extra, payload = self._route(method, path, query, body)
        self._check_response(method, template, op, status, payload)
        if method == "POST" and 200 <= status < 300 and self._lost:
            how = self._lost.pop(0)  # the write happened; its answer never arrives
            if how == "close":
                return LOST, {}, None
            return 502, {}, {"message": "Bad Gateway", "documentation_url": "https://docs.github.com/rest"}
        return status, extra, payload

    def _check_response(self, method: str, template: str, op: dict, status: int, payload):
        """Validate a response body against ``responses[status]`` (2xx must be documented)."""
        where = f"response {method} {template} {status}"
        if str(status) not in op["responses"]:
            if 200 <= status < 300:
                self.violations.append(f"{where}: status not documented")
            return  # GitHub documents few error statuses per operation; nothing to check
        schema = self.spec.response_schema(op, status)
        if schema is None:
            if payload is not None and 200 <= status < 300:
                self.violations.append(f"{where}: body where none is documented")
            return
        self.violations.extend(f"{where}: {e}" for e in self.spec.errors(schema, payload))

    def _page(self, items: list, path: str, query: dict) -> tuple[int, dict, list]:
        per_page = min(int(query.get("per_page", ["30"])[0]), self.page_size_cap)
        page = int(query.get("page", ["1"])[0])
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {}
        links = []
        kept = {k: v[0] for k, v in query.items() if k not in ("page", "per_page")}  # GitHub keeps the filters

        def link(number: int, rel: str) -> str:
            return f'<{self.url}{path}?{urlencode({**kept, "per_page": per_page, "page": number})}>; rel="{rel}"'

        if page * per_page < len(items):
            links.append(link(page + 1, "next"))
            links.append(link((len(items) + per_page - 1) // per_page, "last"))
        if links:
            headers["Link"] = ", ".join(links)
        return 200, headers, chunk

    def _route(self, method: str, path: str, query: dict, body: Any):
        not_found = (
            404,
            {},
            {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"},
        )
        if m := re.fullmatch(r"/orgs/([^/]+)/teams/([^/]+)/memberships/([^/]+)", path):
            if method != "GET":
                return not_found
            org, slug, login = (part.lower() for part in m.groups())
            state = self.team_members.get((org, slug), {}).get(login)
            if state is None:
                return 404, {}, None  # GitHub: "if user has no team membership", no body
            url = f"{self.url}/organizations/1/team/1/memberships/{m.group(3)}"
            return 200, {}, {"url": url, "role": "member", "state": state}
        prefix = f"/repos/{self.repo}"
        if not path.startswith(prefix + "/"):
            return not_found
        rest = path[len(prefix) :]
        if m := re.fullmatch(r"/collaborators/([^/]+)/permission", rest):
            login = unquote(m.group(1))
            permission, role = self.permissions.get(login.lower(), ("none", "none"))
            user = self._simple_user(login) | {
                "permissions": {
                    "pull": permission != "none",
                    "triage": permission != "none" and role != "read",
                    "push": permission in ("write", "admin"),
                    "maintain": role in ("maintain", "admin"),
                    "admin": permission == "admin",
                },
                "role_name": role,
            }
            return 200, {}, {"permission": permission, "role_name": role, "user": user}
        if rest == "/issues":
            if method == "GET":
                return self._list_issues(path, query)
            if error := self._unassignable(body):
                return 422, {}, error
            issue = self.add_issue(body["title"], body.get("body"), labels=body.get("labels"), user=self.bot)
            self._set_issue_fields(issue, {"assignees": body.get("assignees")})
            issue["updated_at"] = issue["created_at"]
            return 201, {"Location": issue["url"]}, issue
        if m := re.fullmatch(r"/issues/(\d+)", rest):
            issue = self.issues.get(int(m.group(1)))
            if issue is None:
                return not_found
            if method == "PATCH":
                if error := self._unassignable(body or {}):
                    return 422, {}, error
                self._set_issue_fields(issue, body or {})
            return 200, {}, issue
        if m := re.fullmatch(r"/issues/(\d+)/comments", rest):
            pr = int(m.group(1))
            if method == "GET":
                return self._page(self.comments.get(pr, []), path, query)
            return 201, {}, self.add_comment(pr, body["body"], user=self.bot)
        if m := re.fullmatch(r"/issues/comments/(\d+)", rest):
            cid = int(m.group(1))
            for comments in self.comments.values():
                for c in comments:
                    if c["id"] == cid:
                        if method == "PATCH":
                            c["body"] = body["body"]
                            c["updated_at"] = _now()
                        return 200, {}, c
            return not_found
        if rest == "/dispatches" and method == "POST":
            self.dispatches.append(body)
            return 204, {}, None
        if rest == "/git/refs" and method == "POST":
            return self._create_ref(body)
        if m := re.fullmatch(r"/git/matching-refs/(.+)", rest):
            prefix = "refs/" + unquote(m.group(1))
            return 200, {}, [self._ref(name) for name in sorted(self.refs) if name.startswith(prefix)]
        if rest == "/check-runs" and method == "POST":
            return 201, {}, self._new_check_run(body)
        if m := re.fullmatch(r"/commits/([^/]+)/check-runs", rest):
            return self._check_runs_for(m.group(1), path, query)
        if m := re.fullmatch(r"/check-runs/(\d+)", rest):
            run = self.check_runs.get(int(m.group(1)))
            if run is None:
                return not_found
            if method == "PATCH":
                self._apply_output(run, body)
            return 200, {}, run["public"]
        if rest == "/pulls" and method == "POST":
            pr = self.add_pull(self.next_number())
            pr.update(title=body["title"], body=body.get("body"), state="open")
            owner = self.repo.split("/")[0]
            head_owner, _, branch = body["head"].rpartition(":")
            pr["head"]["ref"], pr["base"]["ref"] = branch, body["base"]
            pr["head"]["label"], pr["base"]["label"] = f"{head_owner or owner}:{branch}", f"{owner}:{body['base']}"
            return 201, {}, pr
        if rest == "/pulls" and method == "GET":
            return self._page(self._pulls_matching(query), path, query)
        if m := re.fullmatch(r"/pulls/(\d+)", rest):
            pr = self.pulls.get(int(m.group(1)))
            if pr and method == "PATCH":
                pr.update({k: v for k, v in (body or {}).items() if k in ("title", "body", "state")})
                pr["updated_at"] = _now()
                if pr.get("state") == "closed":
                    pr["closed_at"] = pr["updated_at"]
            return (200, {}, pr) if pr else not_found
        if m := re.fullmatch(r"/pulls/(\d+)/(reviews|files)", rest):
            n = int(m.group(1))
            if n not in self.pulls:
                return not_found
            store = self.reviews if m.group(2) == "reviews" else self.files
            return self._page(store.get(n, []), path, query)
        return not_found

    def _pulls_matching(self, query: dict) -> list[dict]:
        """The pull requests GET /pulls lists for ``state`` (default open) and ``head`` (owner:branch)."""
        state = query.get("state", ["open"])[0]
        head = query.get("head", [None])[0]
        found = []
        for number in sorted(self.pulls, reverse=True):  # GitHub's default: newest first
            pr = self.pulls[number]
            if state != "all" and pr.get("state") != state:
                continue
            if head is not None and pr["head"].get("label") != head:
                continue
            found.append(pr)
        return found

    def _ref(self, name: str) -> dict[str, Any]:
        """A ref as GitHub's git refs API returns it."""
        sha = self.refs[name]
        return {
            "ref": name,
            "node_id": f"REF_kwDO{abs(hash(name)) % 10**8}",
            "url": f"{self.url}/repos/{self.repo}/git/{quote(name, safe='/')}",
            "object": {"type": "commit", "sha": sha, "url": f"{self.url}/repos/{self.repo}/git/commits/{sha}"},
        }

    def _create_ref(self, body: dict):
        """POST /git/refs: 422 for a name that exists (as GitHub answers) or is not ``refs/x/y``."""
        name, sha = body["ref"], body["sha"]
        if not re.fullmatch(r"refs/[^/]+/.+", name) or not re.fullmatch(r"[0-9a-f]{40}", sha):
            return 422, {}, {"message": "Reference update failed", "documentation_url": "https://docs.github.com/rest"}
        if name in self.refs:
            return 422, {}, {"message": "Reference already exists", "documentation_url": "https://docs.github.com/rest"}
        self.refs[name] = sha
        return 201, {}, self._ref(name)

    def _check_runs_for(self, ref: str, path: str, query: dict):
        """GET /commits/{ref}/check-runs: by check_name, ``filter=latest`` (default) or ``all``."""
        runs = [r["public"] for r in self.check_runs.values() if r["public"]["head_sha"] == ref]
        if "check_name" in query:
            runs = [r for r in runs if r["name"] == query["check_name"][0]]
        if query.get("filter", ["latest"])[0] == "latest":
            newest: dict[str, dict] = {}
            for run in runs:  # ids grow with time
                newest[run["name"]] = run
            runs = list(newest.values())
        runs.sort(key=lambda r: r["id"], reverse=True)
        status, headers, chunk = self._page(runs, path, query)
        return status, headers, {"total_count": len(runs), "check_runs": chunk}

    def _new_check_run(self, body: dict) -> dict:
        rid = self.new_id()
        run = copy.deepcopy(self._check_template)
        run.update(
            {
                "id": rid,
                "node_id": f"CR_kwDO{rid}",
                "name": body["name"],
                "head_sha": body["head_sha"],
                "external_id": body.get("external_id", ""),
                "status": body.get("status", "queued"),
                "conclusion": body.get("conclusion"),
                "url": f"{self.url}/repos/{self.repo}/check-runs/{rid}",
                "html_url": f"https://github.com/{self.repo}/runs/{rid}",
                "started_at": _now(),
                "completed_at": _now() if body.get("status") == "completed" else None,
                "pull_requests": [],
            }
        )
        run["output"] = {
            "title": None,
            "summary": None,
            "text": None,
            "annotations_count": 0,
            "annotations_url": f"{run['url']}/annotations",
        }
        self.check_runs[rid] = {"public": run, "annotations": [], "requests": []}
        self._apply_output(self.check_runs[rid], body)
        return run

    def _apply_output(self, run: dict, body: dict) -> None:
        run["requests"].append(body)
        output = body.get("output")
        if output:
            run["public"]["output"]["title"] = output.get("title")
            run["public"]["output"]["summary"] = output.get("summary")
            run["annotations"].extend(output.get("annotations", []))
            run["public"]["output"]["annotations_count"] = len(run["annotations"])
        for key in ("status", "conclusion"):
            if key in body:
                run["public"][key] = body[key]


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGitHub

    def log_message(self, format: str, *args: Any) -> None:  # silence
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            status, headers, payload = self.fake.handle(self.command, self.path, self.headers, raw)
        except Exception as exc:  # noqa: BLE001 — a bug in the fake must fail the test loudly
            self.fake.violations.append(f"fake server crashed: {exc!r}")
            status, headers, payload = 500, {}, {"message": "fake crashed"}
        if status == LOST:  # no answer at all: close the connection
            self.close_connection = True
            return
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, str(v))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve
