"""Metrics and logs for operators: Prometheus exposition (metrics.py), JSON logs with request IDs (logs.py)."""
