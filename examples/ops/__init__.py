"""Ops health: check every host, restart only when one is down, then verify (seed 003)."""
