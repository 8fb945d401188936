"""``mlgate serve``: online decisions by alias, every prediction audited.

The one package importing FastAPI, uvicorn, SQLAlchemy and prometheus_client.

``model`` holds and follows the alias's version (loaded and decided as :mod:`mlgate.scoring` does),
``audit`` the SQLAlchemy audit store, ``tokens`` the callers' hashed bearer tokens, ``app`` the
FastAPI routes and metrics, ``server`` the checks and the uvicorn run. Import ``server`` or
``app`` only where serving is wanted: ``import mlgate.serving`` stays light.
"""

__all__: list[str] = []
