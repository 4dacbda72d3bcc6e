"""Declared deployments: `[tool.orchc.deployments.NAME]` checked against the linked flows.

`validate` is the pass (declarations + flows -> `model.Deployment`s + diagnostics);
`values` checks a TOML value against a flow parameter's annotation without importing
anything of the project; `schedules` checks cron, interval, rrule and timezone with
Prefect's own schedule models. Imports only `config`, `model`, `diagnostics`.
"""
