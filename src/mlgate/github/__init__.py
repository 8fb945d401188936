"""GitHub: its REST client, approvals, check runs and comments, the governance check.

``client`` is the only module that imports httpx; ``approvals`` says which reviews count;
``checks`` posts the sticky report comment and check runs; ``governance`` is the governance check.
"""

from mlgate.github.client import DEFAULT_API_URL, MAX_ANNOTATIONS, GitHub, GitHubUnavailable
from mlgate.github.objects import GitHubPayloadError

__all__ = ["DEFAULT_API_URL", "MAX_ANNOTATIONS", "GitHub", "GitHubPayloadError", "GitHubUnavailable"]
