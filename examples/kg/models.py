"""The values passed between the kg operations (pydantic models, nominal types)."""

from __future__ import annotations

from pydantic import BaseModel


class KgConfig(BaseModel):
    """A validated run configuration; paths as the user gave them (relative to the cwd)."""

    dataset: str
    dataset_dir: str
    db_path: str
    html_path: str


class Person(BaseModel):
    key: str
    name: str
    email: str | None = None
    team: str | None = None


class Project(BaseModel):
    key: str
    name: str
    status: str


class Link(BaseModel):
    source: str
    type: str
    target: str


class Document(BaseModel):
    id: str
    title: str
    project: Project
    people: list[Person]
    links: list[Link]


class DocumentSet(BaseModel):
    dataset: str
    documents: list[Document]

    def known_keys(self) -> set[str]:
        return {d.project.key for d in self.documents} | {p.key for d in self.documents for p in d.people}


class Schema(BaseModel):
    node_labels: list[str]
    edge_types: list[str]


class DocumentStats(BaseModel):
    """What one subgraph took from one document."""

    document: str
    nodes: int = 0
    edges: int = 0


class SubgraphResult(BaseModel):
    subgraph: str
    nodes: int
    edges: int
    documents: list[DocumentStats]
    warnings: list[str]


class IngestSummary(BaseModel):
    subgraphs: list[SubgraphResult]


class HtmlExport(BaseModel):
    file: str
    nodes: int
    edges: int
    size: int


class DocumentTotals(BaseModel):
    document: str
    people: int
    projects: int
    links: int


class KgStats(BaseModel):
    """What the `kg` flow returns: counts read back from the database, per-document
    statistics, and every warning the ingestion collected."""

    dataset: str
    nodes_by_label: dict[str, int]
    edges_by_type: dict[str, int]
    documents: list[DocumentTotals]
    warnings: list[str]
    html_file: str
