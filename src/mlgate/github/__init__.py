"""The GitHub adapter: its REST client, which reviews count, who may approve.

``client`` is the only module that imports httpx; ``approvals`` says which reviews count;
``people`` asks GitHub who has access. What uses them (the governance check, the report's
check runs, promotion comments) lives in the layers above.
"""

from mlgate.github.client import DEFAULT_API_URL, MAX_ANNOTATIONS, GitHub, GitHubUnavailable
from mlgate.github.objects import GitHubPayloadError

__all__ = ["DEFAULT_API_URL", "MAX_ANNOTATIONS", "GitHub", "GitHubPayloadError", "GitHubUnavailable"]
