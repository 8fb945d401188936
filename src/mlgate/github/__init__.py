"""The GitHub adapter: its REST client, which reviews count, who may approve.

``client`` is the only module that imports httpx; ``approvals`` says which reviews count;
``people`` asks GitHub who has access. What uses them (the governance check, the report's
check runs, promotion comments) lives in the layers above.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlgate._lazy import lazy_surface

if TYPE_CHECKING:
    from mlgate.github._approvals import Approval, ApprovalCount, People, count_approvals, named_approvers, writers
    from mlgate.github._client import DEFAULT_API_URL, MAX_ANNOTATIONS, GitHub, GitHubUnavailable
    from mlgate.github._objects import (
        Action,
        CheckRun,
        CollaboratorPermission,
        Comment,
        Conclusion,
        GitHubPayloadError,
        GitRef,
        Issue,
        PostedCheckRun,
        PostedComment,
        PullRequest,
        PullRequestFile,
        Review,
        TagResult,
        TeamMembership,
    )
    from mlgate.github._people import GitHubPeople


__all__ = [
    "DEFAULT_API_URL",
    "MAX_ANNOTATIONS",
    "Action",
    "Approval",
    "ApprovalCount",
    "CheckRun",
    "CollaboratorPermission",
    "Comment",
    "Conclusion",
    "GitHub",
    "GitHubPayloadError",
    "GitHubPeople",
    "GitHubUnavailable",
    "GitRef",
    "Issue",
    "People",
    "PostedCheckRun",
    "PostedComment",
    "PullRequest",
    "PullRequestFile",
    "Review",
    "TagResult",
    "TeamMembership",
    "count_approvals",
    "named_approvers",
    "writers",
]

# public name -> its private module (`module:name`, or the module itself)
_LAZY: dict[str, str] = {
    "Action": "_objects:Action",
    "Approval": "_approvals:Approval",
    "ApprovalCount": "_approvals:ApprovalCount",
    "CheckRun": "_objects:CheckRun",
    "CollaboratorPermission": "_objects:CollaboratorPermission",
    "Comment": "_objects:Comment",
    "Conclusion": "_objects:Conclusion",
    "DEFAULT_API_URL": "_client:DEFAULT_API_URL",
    "GitHub": "_client:GitHub",
    "GitHubPayloadError": "_objects:GitHubPayloadError",
    "GitHubPeople": "_people:GitHubPeople",
    "GitHubUnavailable": "_client:GitHubUnavailable",
    "GitRef": "_objects:GitRef",
    "Issue": "_objects:Issue",
    "MAX_ANNOTATIONS": "_client:MAX_ANNOTATIONS",
    "People": "_approvals:People",
    "PostedCheckRun": "_objects:PostedCheckRun",
    "PostedComment": "_objects:PostedComment",
    "PullRequest": "_objects:PullRequest",
    "PullRequestFile": "_objects:PullRequestFile",
    "Review": "_objects:Review",
    "TagResult": "_objects:TagResult",
    "TeamMembership": "_objects:TeamMembership",
    "count_approvals": "_approvals:count_approvals",
    "named_approvers": "_approvals:named_approvers",
    "writers": "_approvals:writers",
}


__getattr__, __dir__ = lazy_surface(globals(), _LAZY, __all__)
