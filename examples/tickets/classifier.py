"""A small multinomial naive Bayes text classifier, trained from the bundled examples.

Plain Python on purpose: it stands in for the CPU-bound model a real triage system runs,
which is why `tickets.classify` asks for `executor="process"`.
"""

from __future__ import annotations

import math
import re
from collections import Counter

TOKEN = re.compile(r"[a-z]+")


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


class NaiveBayes:
    def __init__(self, examples: list[tuple[str, str]]) -> None:
        self.labels = sorted({label for _, label in examples})
        self.priors = Counter(label for _, label in examples)
        self.words = {label: Counter() for label in self.labels}
        for text, label in examples:
            self.words[label].update(tokens(text))
        self.vocabulary = set().union(*self.words.values())
        self.totals = {label: sum(counts.values()) for label, counts in self.words.items()}

    def scores(self, text: str) -> dict[str, float]:
        """Log-probability of each label (Laplace smoothing)."""
        size, count = len(self.vocabulary), sum(self.priors.values())
        result = {}
        for label in self.labels:
            score = math.log(self.priors[label] / count)
            for word in tokens(text):
                score += math.log((self.words[label][word] + 1) / (self.totals[label] + size))
            result[label] = score
        return result

    def predict(self, text: str) -> tuple[str, float]:
        """The best label and its probability among all labels."""
        scores = self.scores(text)
        best = max(self.labels, key=lambda label: (scores[label], label))
        norm = sum(math.exp(s - scores[best]) for s in scores.values())
        return best, round(1 / norm, 3)
