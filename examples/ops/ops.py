"""Check every host in parallel (`map`), restart only the ones that are down (`when`),
then verify: the ops-automation team's "if a service is down, restart it, then verify".

Hosts are simulated: a host named in `down` does not answer its probe, and a host named
in `flaky` fails its first probe (its retry answers), so every branch runs on a laptop.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime import operation


@dataclass(frozen=True)
class HostStatus:
    """One probe's answer."""

    host: str
    up: bool


@dataclass(frozen=True)
class Report:
    """What the run found and did."""

    checked: int
    restarted: list[str]
    healthy: bool


#: hosts whose first probe failed, in this process (a real probe would time out instead)
_probed_once: set[str] = set()


@operation(name="ops.inventory")
def inventory(hosts: str = "web-1,web-2,db-1") -> list[str]:
    """The hosts to check, from a comma-separated list (an inventory service stands here)."""
    return [host.strip() for host in hosts.split(",") if host.strip()]


@operation(name="ops.check", map="host", inputs={"host": "ops.inventory"}, retries=1)
def check(host: str, down: str = "", flaky: str = "") -> HostStatus:
    """Probe one host: one task run per host, each with its own retry."""
    if host in flaky.split(",") and host not in _probed_once:
        _probed_once.add(host)
        raise ConnectionError(f"{host}: probe timed out")
    return HostStatus(host, host not in down.split(","))


@operation(name="ops.any_down")
def any_down(statuses: list[HostStatus]) -> bool:
    """Whether any host is down: the condition of `ops.restart`."""
    return any(not status.up for status in statuses)


@operation(name="ops.restart", when="ops.any_down")
def restart(statuses: list[HostStatus]) -> list[str]:
    """Restart the hosts that are down; runs only when one is."""
    return [status.host for status in statuses if not status.up]


@operation(name="ops.verify")
def verify(restart: list[str] | None, statuses: list[HostStatus]) -> Report:
    """The report: runs either way, with `restart` None when nothing needed restarting."""
    restarted = restart or []
    healthy = all(status.up or status.host in restarted for status in statuses)
    return Report(checked=len(statuses), restarted=restarted, healthy=healthy)
