"""Models in production: monitoring verdicts, alerts, retraining pull requests and their schedule."""
