from dataclasses import dataclass


@dataclass
class Job:
    title: str


class StepstoneJobs(list):
    pass


class LinkedinJobs(list):
    pass


class Ranked(list):
    pass
