"""My own package: orchc must not overwrite it."""
