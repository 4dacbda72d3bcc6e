"""Job-board scraping: two fetches merged by group name, then type-bound steps (seed 001)."""
