"""Support-ticket triage: fetch → classify (in a process) → route → store (seed 004)."""
