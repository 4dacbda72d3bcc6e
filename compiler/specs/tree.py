"""Reading a spec file safely: YAML (or JSON, which it accepts as YAML after checking it
is JSON) into plain values that keep each one's position, within limits.

Safe means nothing is constructed but strings, numbers, booleans, null, lists and
mappings: a tag (`!!python/object`...) is refused, as are aliases (which would let a
small file stand for a huge one), duplicate keys, several documents, more than
MAX_BYTES or nesting deeper than MAX_DEPTH.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from compiler.diagnostics import Diagnostic
from compiler.model import Span

MAX_BYTES = 256 * 1024
MAX_DEPTH = 16
_PLAIN_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:timestamp",
}
_HINT = "write the spec as plain YAML or JSON: mappings, lists, strings, numbers, booleans"


@dataclass(frozen=True)
class Item:
    """A value of the spec with where it is: a mapping's values are Items keyed by name
    (with each key's own span in `keys`), a list's are Items, scalars are themselves."""

    value: Any
    span: Span
    #: for a mapping: key -> the key's span
    keys: dict[str, Span] | None = None

    def plain(self) -> Any:
        """The value without positions (what JSON Schema checks)."""
        if isinstance(self.value, dict):
            return {key: item.plain() for key, item in self.value.items()}
        if isinstance(self.value, list):
            return [item.plain() for item in self.value]
        return self.value

    def get(self, key: str) -> Item | None:
        return self.value.get(key) if isinstance(self.value, dict) else None


def read_spec(path: str, text: str, is_json: bool | None = None) -> tuple[Item | None, list[Diagnostic]]:
    """The spec at `path` as an Item tree, or None with the diagnostics saying why; JSON
    when `is_json`, or (None) when `path` ends with `.json`. A JSON spec's values are
    JSON's (YAML 1.1 would read `1e3` as a string); its positions are YAML's where YAML
    reads it (JSON indented with tabs it does not: those values are placed at the file)."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        return None, [Diagnostic("OC601", f"the spec is larger than {MAX_BYTES // 1024} KiB", Span(path),
                                 "split the pipeline into several spec files")]
    data = _NO_JSON
    if is_json if is_json is not None else path.endswith(".json"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            return None, [Diagnostic("OC601", f"the spec is not valid JSON: {error.msg}",
                                     Span(path, error.lineno, error.colno), "fix the JSON syntax")]
        except (ValueError, RecursionError) as error:  # a number too long to read, nesting too deep
            return None, [Diagnostic("OC601", f"the spec cannot be read: {_what(error)}", Span(path), _HINT)]
    try:
        return _read(path, text, data)
    except (ValueError, KeyError, TypeError, RecursionError) as error:  # `!!int abc`, a huge number...
        return None, [Diagnostic("OC601", f"the spec has a value that cannot be read: {_what(error)}", Span(path), _HINT)]


_NO_JSON = object()


def _what(error: Exception) -> str:
    return "it nests too deep" if isinstance(error, RecursionError) else str(error)[:120] or type(error).__name__


def _read(path: str, text: str, data: Any) -> tuple[Item | None, list[Diagnostic]]:
    import yaml

    try:
        problem = _unsafe(path, yaml.parse(text, Loader=yaml.SafeLoader))
        if problem is not None:
            return None, [problem]
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        if data is not _NO_JSON:  # JSON that YAML does not read (tabs): no positions inside
            if _depth(data) > MAX_DEPTH:
                return None, [Diagnostic("OC601", f"the spec nests deeper than {MAX_DEPTH} levels", Span(path),
                                         "flatten it: a pipeline needs a few levels only")]
            return _placed(path, data), []
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        span = Span(path, mark.line + 1, mark.column + 1) if mark else Span(path)
        problem = getattr(error, "problem", None) or getattr(error, "context", None) or str(error)
        return None, [Diagnostic("OC601", f"the spec is not valid YAML: {problem}", span, "fix the YAML syntax")]
    if node is None:
        return None, [Diagnostic("OC601", "the spec is empty", Span(path), "write `pipeline:` and `steps:`")]
    diagnostics: list[Diagnostic] = []
    item = _item(path, node, diagnostics)
    return (item if data is _NO_JSON else _with_values(item, data)), diagnostics


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def _placed(path: str, value: Any) -> Item:
    """`value` as Items all placed at the file."""
    span = Span(path)
    if isinstance(value, dict):
        return Item({key: _placed(path, item) for key, item in value.items()}, span, {key: span for key in value})
    if isinstance(value, list):
        return Item([_placed(path, item) for item in value], span)
    return Item(value, span)


def _with_values(item: Item, value: Any) -> Item:
    """`item`'s positions with JSON's values (the same shape: YAML read the same text)."""
    if isinstance(item.value, dict) and isinstance(value, dict):
        return Item({key: _with_values(child, value.get(key)) for key, child in item.value.items()}, item.span, item.keys)
    if isinstance(item.value, list) and isinstance(value, list) and len(value) == len(item.value):
        return Item([_with_values(child, v) for child, v in zip(item.value, value)], item.span)
    return Item(value, item.span)


def _unsafe(path: str, events: Any) -> Diagnostic | None:
    """The first thing in the event stream a safe spec must not hold."""
    import yaml

    depth = documents = 0
    for event in events:
        span = Span(path, event.start_mark.line + 1, event.start_mark.column + 1)
        if isinstance(event, yaml.AliasEvent):
            return Diagnostic("OC601", f"the spec uses an alias (`*{event.anchor}`)", span,
                              "write the value out in full: aliases are not accepted in specs")
        tag = getattr(event, "tag", None)
        if tag is not None and tag not in _PLAIN_TAGS and tag != "!":
            return Diagnostic("OC601", f"the spec uses the tag `{tag}`", span, _HINT)
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                return Diagnostic("OC601", "the spec holds several documents", span, "write one pipeline per file")
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                return Diagnostic("OC601", f"the spec nests deeper than {MAX_DEPTH} levels", span,
                                  "flatten it: a pipeline needs a few levels only")
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
    return None


def _span(path: str, node: Any) -> Span:
    start, end = node.start_mark, node.end_mark
    return Span(path, start.line + 1, start.column + 1, end.line + 1, end.column + 1)


def _item(path: str, node: Any, diagnostics: list[Diagnostic]) -> Item:
    import yaml

    span = _span(path, node)
    if isinstance(node, yaml.MappingNode):
        values: dict[str, Item] = {}
        keys: dict[str, Span] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node)
            key_span = _span(path, key_node)
            if not isinstance(key, str):
                diagnostics.append(Diagnostic("OC602", f"the key `{key_node.value}` is not a string", key_span,
                                              "write keys as names"))
                continue
            if key in values:
                diagnostics.append(Diagnostic("OC602", f"the key `{key}` is given twice", key_span, f"keep one `{key}`",
                                              ((keys[key], "first given here"),)))
                continue
            keys[key] = key_span
            values[key] = _item(path, value_node, diagnostics)
        return Item(values, span, keys)
    if isinstance(node, yaml.SequenceNode):
        return Item([_item(path, child, diagnostics) for child in node.value], span)
    return Item(_scalar(node), span)


def _scalar(node: Any) -> Any:
    """A scalar's value as YAML's core schema reads it; a timestamp stays its text."""
    import yaml

    if not isinstance(node, yaml.ScalarNode):
        return None
    if node.tag == "tag:yaml.org,2002:timestamp" or node.tag == "!":
        return node.value
    return yaml.SafeLoader("").construct_object(node)
