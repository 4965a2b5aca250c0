"""Health, metrics and dispatcher liveness: what an operator watches."""
