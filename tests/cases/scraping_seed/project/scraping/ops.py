from typing import Optional

from runtime import operation

from .models import Job, LinkedinJobs, Ranked, StepstoneJobs


@operation(name="scraping.stepstone.fetch", retries=3, retry_delay_seconds=10)
async def fetch_stepstone(keywords: str) -> StepstoneJobs:
    return StepstoneJobs()


@operation(name="scraping.linkedin.fetch")
def fetch_linkedin(keywords: str) -> LinkedinJobs:
    return LinkedinJobs()


@operation(name="scraping.merge")
def merge(stepstone: StepstoneJobs, linkedin: LinkedinJobs) -> list[Job]:
    return [*stepstone, *linkedin]


@operation(name="scraping.rank")
def rank(jobs: list[Job], top: int = 10) -> Ranked:
    return Ranked(jobs[:top])


@operation(name="scraping.report")
def report(ranked: Optional[Ranked], title: str = "Jobs") -> str:
    return title
