"""Orchestration: the Prefect flows (ingest, reprocess), their stages as thin tasks, how CPU work spreads,
the shared command line, and the scheduled deployment."""
