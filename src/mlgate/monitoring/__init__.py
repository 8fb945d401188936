"""Models in production: monitoring verdicts, alerts, reviews, retraining pull requests, their schedule."""
