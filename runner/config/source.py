"""Read a YAML file into plain Python values plus where each value came from.

PyYAML's own loaders lose positions, keep the last of two duplicate keys without a
word, expand aliases without limit and (the C composer) crash on very deep nesting.
This module builds the values straight from libyaml's event stream instead: one
pass, positions for every key and value, duplicate keys refused, aliases shared
rather than copied with their expanded size bounded, and nesting depth bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml import events

PathKey = tuple[str | int, ...]

MAX_DEPTH = 64
MAX_VALUES = 1_000_000  # after alias expansion; a real agents file has far fewer

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_constructor = yaml.constructor.SafeConstructor()
_SCALAR_BUILDERS = {
    "tag:yaml.org,2002:null": lambda node: None,
    "tag:yaml.org,2002:bool": _constructor.construct_yaml_bool,
    "tag:yaml.org,2002:int": _constructor.construct_yaml_int,
    "tag:yaml.org,2002:float": _constructor.construct_yaml_float,
}
_STR_TAGS = {"tag:yaml.org,2002:str", "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary", "!"}
_MERGE_TAG = "tag:yaml.org,2002:merge"
_LIBYAML_DEPTH_PROBLEM = "exceeded maximum nesting depth"
_COLLECTION_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:omap", "tag:yaml.org,2002:set", "tag:yaml.org,2002:pairs"}


@dataclass(frozen=True, slots=True)
class SourceProblem:
    """A problem found while reading, before any path inside the document is known."""

    line: int
    col: int
    path: PathKey
    message: str
    hint: str | None = None


class SourceError(Exception):
    """Reading stopped: the file cannot be turned into values at all."""

    def __init__(self, problem: SourceProblem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass
class Document:
    """The file's values and, for every path inside them, where it was written."""

    text: str
    data: Any = None
    value_positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[PathKey, tuple[int, int]] = field(default_factory=dict)
    styles: dict[PathKey, str] = field(default_factory=dict)  # only quoted and block scalars
    problems: list[SourceProblem] = field(default_factory=list)
    _lines: list[str] | None = field(default=None, repr=False)

    def position(self, path: PathKey, *, key: bool = False) -> tuple[int, int]:
        """Line and column of a value (or of its key); a missing path falls back to its nearest parent."""
        table = self.key_positions if key else self.value_positions
        found = table.get(path)
        if found is not None:
            return found
        while path:
            path = path[:-1]
            found = self.value_positions.get(path)
            if found is not None:
                return found
        return (1, 1)

    def line_text(self, line: int) -> str:
        """The text of a 1-based line ("" past the end)."""
        if self._lines is None:
            self._lines = self.text.splitlines()
        return self._lines[line - 1] if 0 < line <= len(self._lines) else ""


def decode(raw: bytes) -> str:
    """UTF-8 text of the file; raises SourceError at the first byte that is not UTF-8."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        line_start = before.rfind(b"\n") + 1
        col = len(before[line_start:].decode("utf-8", errors="replace")) + 1
        bad = raw[exc.start : exc.start + 1].hex()
        raise SourceError(SourceProblem(line, col, (), f"the file is not valid UTF-8 (byte 0x{bad})", "save it as UTF-8")) from None
    return text[1:] if text.startswith("\ufeff") else text


def parse(text: str) -> Document:
    """Build a Document from YAML text; raises SourceError when nothing usable can be built."""
    doc = Document(text)
    builder = _Builder(doc)
    loader = _Loader(text)
    try:
        while True:
            event = loader.get_event()
            if event is None or builder.feed(event):
                break
    except yaml.MarkedYAMLError as exc:
        raise SourceError(_syntax_problem(exc)) from None
    except yaml.reader.ReaderError as exc:
        line, col = _offset_position(text, exc.position)
        raise SourceError(SourceProblem(line, col, (), f"invalid YAML: {exc.reason} ({_char_name(exc.character)})")) from None
    finally:
        loader.dispose()
    if not builder.documents or builder.empty_root:
        raise SourceError(SourceProblem(1, 1, (), "the file is empty", "an agents file starts with version: 1"))
    return doc


def _syntax_problem(exc: yaml.MarkedYAMLError) -> SourceProblem:
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    if exc.problem == _LIBYAML_DEPTH_PROBLEM:
        # libyaml (PyYAML 6.0.2+) has a nesting limit of its own and its scanner can reach
        # it before our builder sees the 64th level: the same refusal either way.
        return _too_deep(line, col)
    hint = None
    if exc.context and exc.context_mark and exc.context_mark is not mark:
        hint = f"{exc.context} at line {exc.context_mark.line + 1}"
    return SourceProblem(line, col, (), f"invalid YAML: {exc.problem or exc.context}", hint)


def _too_deep(line: int, col: int) -> SourceProblem:
    return SourceProblem(line, col, (), f"the file is nested more than {MAX_DEPTH} levels deep")


def _offset_position(text: str, offset: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, offset) + 1
    return text.count("\n", 0, offset) + 1, offset - line_start + 1


def _char_name(character: Any) -> str:
    code = ord(character) if isinstance(character, str) else int(character)
    return f"character U+{code:04X}"


class _Frame:
    __slots__ = ("container", "path", "is_map", "key", "key_pos", "seen", "anchor", "size", "merges", "start")

    def __init__(self, container: Any, path: PathKey, is_map: bool, anchor: str | None, start: tuple[int, int]) -> None:
        self.container = container
        self.path = path
        self.is_map = is_map
        self.key: Any = None  # the pending key of a mapping; None while a key is awaited
        self.key_pos: tuple[int, int] = (0, 0)
        self.seen: dict[str, int] = {}
        self.anchor = anchor
        self.size = 1
        self.merges: list[dict] = []
        self.start = start


_NOT_A_KEY = object()  # stands in for a key that is not a scalar, so its value is dropped
_MERGE = object()


class _Builder:
    """Turns libyaml events into values and positions, one event at a time."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int] | None] = {}  # None while the anchored value is being built
        self.total = 0
        self.expanded = 0  # of the total, values that aliases repeated
        self.documents = 0
        self.empty_root = False  # a document with nothing in it
        self.resolver = yaml.resolver.Resolver()

    def feed(self, event: events.Event) -> bool:
        """Take one event; True once the document is complete."""
        kind = type(event)
        if kind is events.ScalarEvent:
            self._scalar(event)
        elif kind is events.MappingStartEvent or kind is events.SequenceStartEvent:
            self._start(event, kind is events.MappingStartEvent)
        elif kind is events.MappingEndEvent or kind is events.SequenceEndEvent:
            self._end()
        elif kind is events.AliasEvent:
            self._alias(event)
        elif kind is events.DocumentStartEvent:
            self.documents += 1
            if self.documents > 1:
                mark = event.start_mark
                raise SourceError(SourceProblem(mark.line + 1, mark.column + 1, (), "the file holds more than one YAML document", "remove the second '---'"))
        elif kind is events.StreamEndEvent:
            return True
        return False

    def _child_path(self) -> PathKey | None:
        """Path of the value that starts now, or None when it is a mapping key."""
        if not self.stack:
            return ()
        frame = self.stack[-1]
        if not frame.is_map:
            return frame.path + (len(frame.container),)
        if frame.key is None:
            return None
        if frame.key is _NOT_A_KEY or frame.key is _MERGE:
            return frame.path + ("<<",)
        return frame.path + (frame.key,)

    def _count(self, size: int, mark: Any, *, expanded: bool = False) -> None:
        self.total += size
        if expanded:
            self.expanded += size
        if self.total > MAX_VALUES:
            where = (mark.line + 1, mark.column + 1, ())
            if self.expanded > self.total - self.expanded:  # aliases, not what is written, made it this big
                raise SourceError(SourceProblem(*where, f"aliases expand this file to more than {MAX_VALUES:,} values", "is this an alias bomb?"))
            raise SourceError(SourceProblem(*where, f"the file has more than {MAX_VALUES:,} values"))

    def _scalar(self, event: events.ScalarEvent) -> None:
        self._count(1, event.start_mark)
        mark = event.start_mark
        position = (mark.line + 1, mark.column + 1)
        path = self._child_path()
        if path is None:
            self._take_key(event, position)
            return
        if event.style:
            self.doc.styles[path] = event.style
        elif not path and not event.value:
            self.empty_root = True
        value = self._scalar_value(event, position, path)
        self._place(value, path, position, 1, event.anchor)

    def _scalar_value(self, event: events.ScalarEvent, position: tuple[int, int], path: PathKey) -> Any:
        tag = event.tag
        if tag is None or tag == "!":
            if event.style or not event.implicit[0]:
                return event.value
            tag = self.resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag in _STR_TAGS:
            return event.value
        builder = _SCALAR_BUILDERS.get(tag)
        if builder is None:
            self.doc.problems.append(SourceProblem(*position, path, f"unsupported YAML tag '{tag}'", "remove the tag"))
            return event.value
        try:
            return builder(yaml.ScalarNode(tag, event.value))
        except (ValueError, yaml.constructor.ConstructorError):
            self.doc.problems.append(SourceProblem(*position, path, f"'{event.value}' is not a valid {tag.rsplit(':', 1)[-1]}"))
            return event.value

    def _take_key(self, event: events.ScalarEvent, position: tuple[int, int]) -> None:
        frame = self.stack[-1]
        frame.key_pos = position
        if not event.style and event.value == "<<" and event.tag is None:
            frame.key = _MERGE
        else:
            frame.key = event.value

    def _start(self, event: events.CollectionStartEvent, is_map: bool) -> None:
        mark = event.start_mark
        position = (mark.line + 1, mark.column + 1)
        if len(self.stack) >= MAX_DEPTH:
            raise SourceError(_too_deep(*position))
        self._count(1, mark)
        path = self._child_path()
        if event.tag and event.tag != "!" and event.tag not in _COLLECTION_TAGS:
            self.doc.problems.append(SourceProblem(*position, path or (), f"unsupported YAML tag '{event.tag}'", "remove the tag"))
        if path is None:
            parent = self.stack[-1]
            parent.key = _NOT_A_KEY
            parent.key_pos = position
            path = parent.path + ("<<",)
            self.doc.problems.append(SourceProblem(*position, parent.path, "a mapping key must be a plain value, not a list or mapping"))
        if event.anchor is not None:
            self.anchors[event.anchor] = None
        self.stack.append(_Frame({} if is_map else [], path, is_map, event.anchor, position))

    def _end(self) -> None:
        frame = self.stack.pop()
        value = frame.container
        if frame.merges:
            for source in frame.merges:
                for key, item in source.items():
                    if key not in value:
                        value[key] = item
                        self.doc.key_positions.setdefault(frame.path + (key,), frame.start)
        self._place(value, frame.path, frame.start, frame.size, frame.anchor)

    def _alias(self, event: events.AliasEvent) -> None:
        mark = event.start_mark
        position = (mark.line + 1, mark.column + 1)
        path = self._child_path()
        if path is None:
            frame = self.stack[-1]
            frame.key = _NOT_A_KEY
            frame.key_pos = position
            self.doc.problems.append(SourceProblem(*position, frame.path, "a mapping key must be a plain value, not an alias"))
            return
        if event.anchor not in self.anchors:
            raise SourceError(SourceProblem(*position, (), f"undefined alias '*{event.anchor}'", "define it first with &" + event.anchor))
        anchored = self.anchors[event.anchor]
        if anchored is None:
            raise SourceError(SourceProblem(*position, (), f"alias '*{event.anchor}' refers to the value that contains it"))
        value, size = anchored
        self._count(size - 1, mark, expanded=True)
        self._place(value, path, position, size, None)

    def _place(self, value: Any, path: PathKey, position: tuple[int, int], size: int, anchor: str | None) -> None:
        """Store a finished value in its parent and remember where it was written."""
        if anchor is not None:
            self.anchors[anchor] = (value, size)
        if not self.stack:
            self.doc.data = value
            self.doc.value_positions[path] = position
            return
        frame = self.stack[-1]
        frame.size += size
        if not frame.is_map:
            frame.container.append(value)
            self.doc.value_positions[path] = position
            return
        key = frame.key
        frame.key = None
        if key is _NOT_A_KEY:
            return
        if key is _MERGE:
            self._merge(frame, value, position)
            return
        first = frame.seen.get(key)
        if first is not None:
            line, col = frame.key_pos
            self.doc.problems.append(SourceProblem(line, col, path, f"duplicate key '{key}'", f"the first is at line {first}"))
            return
        frame.seen[key] = frame.key_pos[0]
        frame.container[key] = value
        self.doc.value_positions[path] = position
        self.doc.key_positions[path] = frame.key_pos

    def _merge(self, frame: _Frame, value: Any, position: tuple[int, int]) -> None:
        sources = value if isinstance(value, list) else [value]
        if not all(isinstance(source, dict) for source in sources):
            self.doc.problems.append(SourceProblem(*position, frame.path, "a merge key '<<' takes a mapping or a list of mappings"))
            return
        frame.merges.extend(sources)
