"""The scraping operations. orchc infers the graph from these signatures:

- `merge(stepstone, linkedin)` binds by *name*: in group `scraping` the subgroups
  `scraping.stepstone` and `scraping.linkedin` stand for their single sink, the fetch;
- `dedupe`, `rank` and `report` bind by *type* (`JobPool`, `UniqueJobs`, `Ranking`);
- `keywords`, `top` and `report_path` match nothing, so they become flow parameters.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from runtime import operation

from .models import Job, JobPool, LinkedinJobs, Ranking, Report, ScoredJob, StepstoneJobs, UniqueJobs

DATA = Path(__file__).parent / "data"


def _keywords(keywords: str) -> list[str]:
    return sorted({word.strip().lower() for word in keywords.split(",") if word.strip()})


def _matches(job: Job, words: list[str]) -> list[str]:
    text = " ".join([job.title, *job.skills]).lower()
    return [word for word in words if word in text]


@operation(name="scraping.stepstone.fetch", retries=3, retry_delay_seconds=2, tags=["io"])
async def fetch_stepstone(keywords: str) -> StepstoneJobs:
    """Fetch Stepstone postings matching any keyword (an async API client in real life)."""
    await asyncio.sleep(0.05)  # the network round trip
    raw = json.loads((DATA / "stepstone.json").read_text(encoding="utf-8"))
    words = _keywords(keywords)
    jobs = [
        Job(title=item["headline"], company=item["employer"], location=item["city"],
            url=item["link"], source="stepstone", skills=item["tags"])
        for item in raw["results"]
    ]
    return StepstoneJobs(jobs=[job for job in jobs if _matches(job, words)])


@operation(name="scraping.linkedin.fetch", retries=2, retry_delay_seconds=1, tags=["io"])
def fetch_linkedin(keywords: str) -> LinkedinJobs:
    """Fetch LinkedIn postings matching any keyword (a blocking client: runs in a thread)."""
    words = _keywords(keywords)
    jobs = []
    for line in (DATA / "linkedin.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        job = Job(title=item["title"], company=item["company"]["name"], location=item["location"],
                  url=item["url"], source="linkedin", skills=item.get("skills", []))
        if _matches(job, words):
            jobs.append(job)
    return LinkedinJobs(jobs=jobs)


@operation(name="scraping.merge")
def merge(stepstone: StepstoneJobs, linkedin: LinkedinJobs) -> JobPool:
    """Put both boards' postings in one pool."""
    return JobPool(jobs=[*stepstone.jobs, *linkedin.jobs])


@operation(name="scraping.dedupe")
def dedupe(pool: JobPool) -> UniqueJobs:
    """Drop postings cross-posted on both boards (same title and company), keeping the first."""
    seen: set[tuple[str, str]] = set()
    unique = []
    for job in pool.jobs:
        key = (" ".join(job.title.lower().split()), job.company.lower())
        if key not in seen:
            seen.add(key)
            unique.append(job)
    return UniqueJobs(jobs=unique, duplicates=len(pool.jobs) - len(unique))


@operation(name="scraping.rank")
def rank(jobs: UniqueJobs, keywords: str, top: int = 5) -> Ranking:
    """Score each posting by the keywords it matches; keep the best `top`."""
    words = _keywords(keywords)
    scored = [ScoredJob(job=job, score=len(found), matched=found)
              for job in jobs.jobs if (found := _matches(job, words))]
    scored.sort(key=lambda s: (-s.score, s.job.title, s.job.company))
    return Ranking(keywords=words, jobs=scored[:top])


@operation(name="scraping.report")
def report(ranking: Ranking, unique: UniqueJobs, report_path: str = "jobs_report.md") -> Report:
    """Write the ranking as a Markdown table to `report_path` and summarise it."""
    lines = [f"# Jobs for {', '.join(ranking.keywords)}", "",
             "| # | Title | Company | Location | Source | Matched |", "|---|---|---|---|---|---|"]
    for place, scored in enumerate(ranking.jobs, start=1):
        job = scored.job
        lines.append(f"| {place} | [{job.title}]({job.url}) | {job.company} | {job.location} "
                     f"| {job.source} | {', '.join(scored.matched)} |")
    path = Path(report_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Report(keywords=ranking.keywords, fetched=len(unique.jobs) + unique.duplicates,
                  duplicates=unique.duplicates, jobs=[f"{s.job.title} @ {s.job.company}" for s in ranking.jobs],
                  report_file=path.name)
