"""The data passed between the scraping operations. Each step has its own nominal type,
so orchc can bind a parameter to its producer by annotation alone."""

from __future__ import annotations

from pydantic import BaseModel


class Job(BaseModel):
    """One job posting, whichever board it came from."""

    title: str
    company: str
    location: str
    url: str
    source: str
    skills: list[str] = []


class StepstoneJobs(BaseModel):
    jobs: list[Job]


class LinkedinJobs(BaseModel):
    jobs: list[Job]


class JobPool(BaseModel):
    """Every fetched posting, duplicates included."""

    jobs: list[Job]


class UniqueJobs(BaseModel):
    """Postings with cross-posted duplicates removed."""

    jobs: list[Job]
    duplicates: int


class ScoredJob(BaseModel):
    job: Job
    score: int
    matched: list[str]


class Ranking(BaseModel):
    keywords: list[str]
    jobs: list[ScoredJob]


class Report(BaseModel):
    """What the flow returns: the best jobs (best first) and where the Markdown report went."""

    keywords: list[str]
    fetched: int
    duplicates: int
    jobs: list[str]
    report_file: str
