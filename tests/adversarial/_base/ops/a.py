"""A small project every adversarial case starts from (its own files are laid over it)."""

from runtime import operation


@operation(name="g.load")
def load(path: str = "in.txt") -> list[int]:
    return [1, 2, 3]


@operation(name="g.total")
def total(load: list[int]) -> int:
    return sum(load)
