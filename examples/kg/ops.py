"""The kg operations: validate → open the backend → load documents → create the schema →
ingest three subgraphs in parallel (one mapped operation) → export HTML → statistics.

How orchc binds them (see README.md for the whole graph):
- by *name*: `backend`, `schema` and `config` are operations of group `kg`; in
  `kg.stats`, `ingest` is the subgroup `kg.ingest` standing for its single sink
  (`kg.ingest.summary`), whose `subgraph` is its sibling `kg.ingest.subgraph`, mapped
  over the names `kg.ingest.subgraphs` lists (`inputs=`), so its result is a list;
- by *type*: `settings: KgConfig`, `docs: DocumentSet`, `page: HtmlExport`;
- `depends_on`: the HTML export reads the database, so it waits for the whole
  `kg.ingest` group although it takes no data from it;
- flow parameters: `dataset`, `db_path`, `html_path` (all with defaults).
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

from runtime import operation

from .backend import Backend
from .models import (
    Document,
    DocumentSet,
    DocumentStats,
    DocumentTotals,
    HtmlExport,
    IngestSummary,
    KgConfig,
    KgStats,
    Schema,
    SubgraphResult,
)

DATA = Path(__file__).parent / "data"

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS nodes (
    key TEXT PRIMARY KEY, label TEXT NOT NULL, name TEXT NOT NULL, props TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS edges (
    source TEXT NOT NULL, type TEXT NOT NULL, target TEXT NOT NULL,
    PRIMARY KEY (source, type, target));
CREATE TABLE IF NOT EXISTS edge_types (name TEXT PRIMARY KEY);
"""

UPSERT_NODE = """
INSERT INTO nodes (key, label, name, props) VALUES (?, ?, ?, ?)
ON CONFLICT (key) DO UPDATE SET label = excluded.label, name = excluded.name, props = excluded.props
"""


@operation(name="kg.config")
def validate_config(dataset: str = "demo", db_path: str = "kg.sqlite", html_path: str = "kg.html") -> KgConfig:
    """Check the run configuration before anything touches the database."""
    folder = DATA / dataset
    if not folder.is_dir() or not any(folder.glob("*.json")):
        known = sorted(p.name for p in DATA.iterdir() if p.is_dir())
        raise ValueError(f"unknown dataset {dataset!r}: expected one of {known}")
    if not html_path.endswith(".html"):
        raise ValueError(f"html_path must end in .html, got {html_path!r}")
    if not db_path.strip():
        raise ValueError("db_path must not be empty")
    return KgConfig(dataset=dataset, dataset_dir=str(folder), db_path=db_path, html_path=html_path)


@operation(name="kg.backend", persist_result=False, tags=["db"])
def open_backend(config: KgConfig) -> Backend:
    """Open (or create) the embedded graph database. The handle is never persisted."""
    return Backend(config.db_path)


@operation(name="kg.load")
def load_documents(settings: KgConfig) -> DocumentSet:
    """Read the dataset's documents, in a stable order."""
    paths = sorted(Path(settings.dataset_dir).glob("*.json"))
    documents = [Document.model_validate(_renamed(json.loads(p.read_text(encoding="utf-8")))) for p in paths]
    return DocumentSet(dataset=settings.dataset, documents=documents)


def _renamed(raw: dict) -> dict:
    """`from`/`to` are Python keywords: the model calls them `source`/`target`."""
    raw["links"] = [{"source": l["from"], "type": l["type"], "target": l["to"]} for l in raw["links"]]
    return raw


@operation(name="kg.schema", retries=2, retry_delay_seconds=1, tags=["db"])
def create_schema(backend: Backend, docs: DocumentSet) -> Schema:
    """Pass 1: create the tables and register every edge type the documents use."""
    edge_types = sorted({link.type for d in docs.documents for link in d.links})
    with backend.writer() as db:
        db.executescript(SCHEMA_SQL)
        db.executemany("INSERT OR IGNORE INTO edge_types (name) VALUES (?)", [(t,) for t in edge_types])
    return Schema(node_labels=["Person", "Project"], edge_types=edge_types)


# -- pass 2: one task run per subgraph, all three at once (`map`) ------------------------


def ingest_people(backend: Backend, schema: Schema, docs: DocumentSet) -> SubgraphResult:
    """Upsert every person (a person named in several documents is one node)."""
    rows, stats, warnings = {}, [], []
    for doc in docs.documents:
        for person in doc.people:
            if not person.email:
                warnings.append(f"{doc.id}: person `{person.key}` has no email")
            props = json.dumps({"email": person.email, "team": person.team}, sort_keys=True)
            rows[f"person:{person.key}"] = (f"person:{person.key}", "Person", person.name, props)
        stats.append(DocumentStats(document=doc.id, nodes=len(doc.people)))
    with backend.writer() as db:
        db.executemany(UPSERT_NODE, sorted(rows.values()))
    return SubgraphResult(subgraph="people", nodes=len(rows), edges=0, documents=stats, warnings=warnings)


def ingest_projects(backend: Backend, schema: Schema, docs: DocumentSet) -> SubgraphResult:
    """Upsert one node per project document."""
    rows, stats, warnings = [], [], []
    for doc in docs.documents:
        project = doc.project
        if project.status != "active":
            warnings.append(f"{doc.id}: project `{project.key}` is {project.status}, not active")
        rows.append((f"project:{project.key}", "Project", project.name, json.dumps({"status": project.status})))
        stats.append(DocumentStats(document=doc.id, nodes=1))
    with backend.writer() as db:
        db.executemany(UPSERT_NODE, rows)
    return SubgraphResult(subgraph="projects", nodes=len(rows), edges=0, documents=stats, warnings=warnings)


def ingest_links(backend: Backend, schema: Schema, docs: DocumentSet) -> SubgraphResult:
    """Insert the relationships. Endpoints are checked against the documents, not the
    database, so this runs alongside the node ingestion; a dangling link is skipped."""
    projects = {d.project.key for d in docs.documents}
    people = {p.key for d in docs.documents for p in d.people}

    def node(key: str) -> str | None:
        return f"project:{key}" if key in projects else f"person:{key}" if key in people else None

    rows, stats, warnings = set(), [], []
    for doc in docs.documents:
        kept = 0
        for link in doc.links:
            source, target = node(link.source), node(link.target)
            if source is None or target is None or link.type not in schema.edge_types:
                warnings.append(f"{doc.id}: skipped link {link.source} -{link.type}-> {link.target} (unknown endpoint)")
                continue
            rows.add((source, link.type, target))
            kept += 1
        stats.append(DocumentStats(document=doc.id, edges=kept))
    with backend.writer() as db:
        db.executemany("INSERT OR IGNORE INTO edges (source, type, target) VALUES (?, ?, ?)", sorted(rows))
    return SubgraphResult(subgraph="links", nodes=0, edges=len(rows), documents=stats, warnings=warnings)


#: how each subgraph is ingested
INGESTERS = {"people": ingest_people, "projects": ingest_projects, "links": ingest_links}


@operation(name="kg.ingest.subgraphs")
def subgraphs(schema: Schema) -> list[str]:
    """The subgraphs to ingest once the schema exists: one task run each."""
    return list(INGESTERS)


@operation(name="kg.ingest.subgraph", map="name", inputs={"name": "kg.ingest.subgraphs"},
           retries=3, retry_delay_seconds=1, tags=["db"])
def ingest_subgraph(name: str, backend: Backend, schema: Schema, docs: DocumentSet) -> SubgraphResult:
    """Ingest one subgraph. Mapped over the subgraphs' names, so all of them run at once,
    each its own task run (`kg.ingest.subgraph[0]`...) with its own retries; links need
    only the documents, not the nodes, so they need not wait for them."""
    return INGESTERS[name](backend, schema, docs)


@operation(name="kg.ingest.summary")
def summarize(subgraph: list[SubgraphResult]) -> IngestSummary:
    """The sink of `kg.ingest`: the subgraph results together, in the order ingested."""
    return IngestSummary(subgraphs=subgraph)


# -- after ingestion --------------------------------------------------------------------


@operation(name="kg.export", depends_on=["kg.ingest"])
def export_html(backend: Backend, config: KgConfig) -> HtmlExport:
    """Write a self-contained HTML page drawing the graph (an SVG, no scripts, no network)."""
    nodes = backend.query("SELECT key, label, name FROM nodes ORDER BY label, key")
    edges = backend.query("SELECT source, type, target FROM edges ORDER BY source, type, target")
    place = {key: _circle(i, len(nodes)) for i, (key, _, _) in enumerate(nodes)}
    svg = [f'<line x1="{place[s][0]}" y1="{place[s][1]}" x2="{place[t][0]}" y2="{place[t][1]}">'
           f"<title>{html.escape(f'{s} {kind} {t}')}</title></line>"
           for s, kind, t in edges]
    svg += [f'<g class="{label.lower()}"><circle cx="{place[k][0]}" cy="{place[k][1]}" r="18"/>'
            f'<text x="{place[k][0]}" y="{place[k][1] + 32}">{html.escape(name)}</text></g>'
            for k, label, name in nodes]
    rows = "".join(f"<tr><td>{html.escape(s)}</td><td>{kind}</td><td>{html.escape(t)}</td></tr>" for s, kind, t in edges)
    page = HTML_PAGE.format(title=html.escape(config.dataset), svg="\n".join(svg), rows=rows,
                            nodes=len(nodes), edges=len(edges))
    path = Path(config.html_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return HtmlExport(file=path.name, nodes=len(nodes), edges=len(edges), size=len(page.encode()))


def _circle(index: int, count: int) -> tuple[int, int]:
    angle = 2 * math.pi * index / max(count, 1)
    return round(300 + 220 * math.cos(angle)), round(260 + 200 * math.sin(angle))


HTML_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Knowledge graph: {title}</title>
<style>
line {{ stroke: #999; stroke-width: 2 }} circle {{ stroke: #333 }}
.person circle {{ fill: #8ecae6 }} .project circle {{ fill: #ffb703 }}
text {{ font: 12px sans-serif; text-anchor: middle }}
</style></head>
<body><h1>Knowledge graph: {title}</h1>
<p>{nodes} nodes, {edges} edges</p>
<svg width="600" height="520" viewBox="0 0 600 520">
{svg}
</svg>
<table><tr><th>source</th><th>type</th><th>target</th></tr>{rows}</table>
</body></html>
"""


@operation(name="kg.stats")
def statistics(ingest: IngestSummary, page: HtmlExport, backend: Backend, docs: DocumentSet) -> KgStats:
    """Read the counts back from the database and gather per-document stats and warnings."""
    totals: dict[str, dict[str, int]] = {}
    for result in ingest.subgraphs:
        for doc in result.documents:
            counts = totals.setdefault(doc.document, {"people": 0, "projects": 0, "links": 0})
            counts[result.subgraph] += doc.edges if result.subgraph == "links" else doc.nodes
    return KgStats(
        dataset=docs.dataset,
        nodes_by_label=dict(backend.query("SELECT label, COUNT(*) FROM nodes GROUP BY label ORDER BY label")),
        edges_by_type=dict(backend.query("SELECT type, COUNT(*) FROM edges GROUP BY type ORDER BY type")),
        documents=[DocumentTotals(document=name, **counts) for name, counts in sorted(totals.items())],
        warnings=sorted(w for result in ingest.subgraphs for w in result.warnings),
        html_file=page.file,
    )
