"""Knowledge-graph ingestion into an embedded SQLite graph (seed 000)."""
