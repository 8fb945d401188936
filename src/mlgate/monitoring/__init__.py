"""Monitoring a model in production: ``mlgate monitor``'s verdict, its alerts and post-deployment reviews."""
