"""The sandbox agents' templates compile and render in: no Python internals, bounded work.

Jinja's sandbox already refuses unsafe attributes and ranges over 100,000 items, but
a template is still user code: it could ask for a gigabyte string (`'%999999999d' % 1`
is even folded at compile time), nest loops a billion iterations deep, or recurse
until Python gives up.  This environment bounds each of those: the text size of what
operators, filters and str methods build (measured before building it: a list can
hold one big string many times over), the loop iterations, calls and seconds of one
render, and the characters it prints.  Compiling and rendering either succeed or
raise one `TemplateRenderError` whose message fits on one problem line.
"""

from __future__ import annotations

import contextvars
import re
import string
import time
from typing import Any, Callable, Iterator, Mapping

from jinja2 import StrictUndefined, Template, TemplateError, TemplateRuntimeError, nodes
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace

MAX_TEXT = 200_000  # characters in any string a template builds, and in its output
MAX_STEPS = 100_000  # loop iterations plus calls in one render
MAX_PRINTED = 1_000_000  # characters of all `{{ }}` values of one render, captured blocks included
MAX_SECONDS = 1.0  # wall time of one render
_STEP_FILTER = "_runner_step"
_CONCAT_FILTER = "_runner_concat"
_PERCENT_NUMBERS = re.compile(r"%[-#0 +]*(\d*)(?:\.(\d*))?")
_SPEC_NUMBERS = re.compile(r"\d+")
_WIDTH_METHODS = {"center", "ljust", "rjust", "zfill", "expandtabs"}
_WIDTH_FILTERS = ("center", "indent", "batch", "slice", "wordwrap", "truncate")
_TEXT_FILTERS = (
    "capitalize", "center", "e", "escape", "forceescape", "indent", "lower", "pprint", "reverse", "safe", "string",
    "striptags", "title", "tojson", "trim", "truncate", "upper", "urlencode", "urlize", "wordcount", "wordwrap", "xmlattr",
)


class TemplateRenderError(TemplateRuntimeError):
    """A template that cannot compile or render; `lineno` is its template line when known."""

    def __init__(self, message: str, lineno: int | None = None) -> None:
        super().__init__(message)
        self.lineno = lineno


class _Budget:
    """The work one render may still do."""

    def __init__(self) -> None:
        self.steps = 0
        self.printed = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise TemplateRenderError(f"the template does too much work (more than {MAX_STEPS:,} loop iterations and calls)")
        if self.steps % 256 == 0 and time.monotonic() > self.deadline:
            raise TemplateRenderError(f"the template takes more than {MAX_SECONDS:g} s to render")


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("template_budget", default=None)


def _step() -> None:
    budget = _BUDGET.get()
    if budget is not None:  # constant folding at compile time has no budget: it is bounded by size checks
        budget.step()


def _text_size(value: Any, limit: int = MAX_TEXT) -> int:
    """About how long str(value) is, counted without building it and only until past `limit`.

    Containers can share one big value many times over ([s] * 100000), so their text can
    be far larger than their memory: this is what every place that turns values into
    text checks first.
    """
    size = 0
    pending = [value]
    while pending and size <= limit:
        item = pending.pop()
        if isinstance(item, str):
            size += len(item)
        elif isinstance(item, bool) or item is None:
            size += 5
        elif isinstance(item, int):
            size += item.bit_length() // 3 + 1
        elif isinstance(item, Mapping):
            size += 2 + 4 * len(item)
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            size += 2 + 2 * len(item)
            pending.extend(item)
        elif isinstance(item, Namespace):
            pending.append(getattr(item, "_Namespace__attrs", {}))
        else:
            size += 24
    return size


def _check_text(value: Any, what: str) -> None:
    if _text_size(value) > MAX_TEXT:
        raise _too_long(what)


def _printed(value: Any) -> Any:
    """Every `{{ }}` value (the environment's finalize): bounded alone and in total."""
    size = _text_size(value)
    if size > MAX_TEXT:
        raise _too_long("a printed value")
    budget = _BUDGET.get()
    if budget is not None:
        budget.printed += size
        if budget.printed > MAX_PRINTED:
            raise TemplateRenderError(f"the template prints more than {MAX_PRINTED:,} characters")
    return value


def _too_long(what: str) -> TemplateRenderError:
    return TemplateRenderError(f"{what} would be longer than {MAX_TEXT:,} characters")


def _check_count(value: Any, what: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_TEXT:
        raise _too_long(what)


def _check_percent_format(text: str, args: Any) -> None:
    if len(text) + _text_size(args) > MAX_TEXT:
        raise _too_long("a formatted value")
    for width, precision in _PERCENT_NUMBERS.findall(text):
        for number in (width, precision):
            if number and int(number) > MAX_TEXT:
                raise _too_long("a formatted value")
    for value in args if isinstance(args, tuple) else (args,):
        if "*" in text:
            _check_count(value, "a formatted value")


def _check_brace_format(text: str, args: list[Any]) -> None:
    if len(text) + _text_size(args) > MAX_TEXT:
        raise _too_long("a formatted value")
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError:
        return  # str.format raises its own message
    for _literal, _field, spec, _conversion in fields:
        for number in _SPEC_NUMBERS.findall(spec or ""):
            if int(number) > MAX_TEXT:
                raise _too_long("a formatted value")
    for value in args:
        _check_count(value, "a formatted value")


def _stepped(iterable: Any) -> Iterator[Any]:
    """Every loop's iterable: each item costs one step."""
    for item in iterable:
        _step()
        yield item


def _bounded_concat(parts: list[Any]) -> str:
    """`a ~ b`: the joined text must stay within MAX_TEXT."""
    _check_text(parts, "a joined text")
    return "".join(map(str, parts))


def _bounded_filter(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    """A filter whose value must be short enough as text (a text filter) and whose counts are bounded (a width filter)."""
    value_at = 1 if hasattr(original, "jinja_pass_arg") else 0  # after the context, when the filter takes it
    text, width = name in _TEXT_FILTERS, name in _WIDTH_FILTERS

    def bounded(*args: Any, **kwargs: Any) -> Any:
        if text and len(args) > value_at:
            _check_text(args[value_at], f"the value of |{name}")
        if width:
            for value in list(args[value_at + 1 :]) + list(kwargs.values()):
                _check_count(value, f"the result of |{name}")
        return original(*args, **kwargs)

    return _passing_the_same(original, bounded)


def _passing_the_same(original: Callable[..., Any], bounded: Callable[..., Any]) -> Callable[..., Any]:
    """`bounded` receives the context, eval context or environment exactly as `original` does."""
    if hasattr(original, "jinja_pass_arg"):
        bounded.jinja_pass_arg = original.jinja_pass_arg  # type: ignore[attr-defined]
    return bounded


def _bounded_join(original: Callable[..., str]) -> Callable[..., str]:
    def join(eval_ctx: Any, value: Any, d: str = "", attribute: Any = None) -> str:
        items = list(value)
        if _text_size(items) + len(d) * len(items) > MAX_TEXT:
            raise _too_long("the result of |join")
        return original(eval_ctx, items, d, attribute)

    return _passing_the_same(original, join)


def _bounded_replace(original: Callable[..., str]) -> Callable[..., str]:
    def replace(eval_ctx: Any, s: str, old: str, new: str, count: int | None = None) -> str:
        _check_replace(str(s), str(old), str(new))
        return original(eval_ctx, s, old, new, count)

    return _passing_the_same(original, replace)


def _bounded_format(original: Callable[..., str]) -> Callable[..., str]:
    def format_filter(value: str, *args: Any, **kwargs: Any) -> str:
        _check_percent_format(str(value), tuple(args) or tuple(kwargs.values()))
        return original(value, *args, **kwargs)

    return _passing_the_same(original, format_filter)


def _bounded_sum(original: Callable[..., Any]) -> Callable[..., Any]:
    def sum_filter(environment: Any, iterable: Any, attribute: Any = None, start: Any = 0) -> Any:
        if not isinstance(start, (int, float)):  # adding lists or strings: the result's text is the inputs' text
            iterable = list(iterable)
            _check_text([iterable, start], "the result of |sum")
        return original(environment, iterable, attribute, start)

    return _passing_the_same(original, sum_filter)


def _bounded_lipsum(original: Callable[..., str]) -> Callable[..., str]:
    def lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002 (Jinja's names)
        if n * max > MAX_TEXT // 8:  # words of up to about 8 characters
            raise _too_long("the result of lipsum()")
        return original(n, html, min, max)

    return lipsum


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, plus bounds on the size of what a template builds and the work it does."""

    intercepted_binops = frozenset({"*", "%", "**", "+"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        for name in set(_WIDTH_FILTERS) | set(_TEXT_FILTERS):
            self.filters[name] = _bounded_filter(name, self.filters[name])
        for name, bound in (("join", _bounded_join), ("replace", _bounded_replace), ("format", _bounded_format), ("sum", _bounded_sum)):
            self.filters[name] = bound(self.filters[name])
        self.globals["lipsum"] = _bounded_lipsum(self.globals["lipsum"])
        self.filters[_STEP_FILTER] = _stepped
        self.filters[_CONCAT_FILTER] = _bounded_concat

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """The parsed template with every loop stepped and every `~` bounded."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, _STEP_FILTER, [], [], None, None, lineno=loop.lineno)
        for concat in list(tree.find_all(nodes.Concat)):
            joined = nodes.Filter(nodes.List(concat.nodes, lineno=concat.lineno), _CONCAT_FILTER, [], [], None, None, lineno=concat.lineno)
            _replace_node(tree, concat, joined)
        return tree

    def call_binop(self, context: Context, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "%" and isinstance(left, str):
            _check_percent_format(left, right)
        elif operator_name == "*":
            for sequence, count in ((left, right), (right, left)):
                if isinstance(sequence, (str, list, tuple)) and isinstance(count, int) and count > 0:
                    if _text_size(sequence, MAX_TEXT // count) > MAX_TEXT // count:
                        raise _too_long("a repeated value")
        elif operator_name == "+" and isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
            _check_text([left, right], "a joined value")
        elif operator_name == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1:
            if right * left.bit_length() > MAX_TEXT * 4:
                raise TemplateRenderError(f"{left} ** {right} is too large a number")
        return super().call_binop(context, operator_name, left, right)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """`str.format` and `format_map`, with their widths bounded first."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        text = value.__self__

        def bounded(*args: Any, **kwargs: Any) -> str:
            values = list(args) + list(kwargs.values())
            values += [item for value in values if isinstance(value, Mapping) for item in value.values()]
            _check_brace_format(text, values)
            return wrapped(*args, **kwargs)

        return bounded

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 (Jinja's signature)
        _step()
        owner = getattr(__obj, "__self__", None)
        method = getattr(__obj, "__name__", "")
        if isinstance(owner, str):
            if method in _WIDTH_METHODS:
                for value in list(args) + list(kwargs.values()):
                    _check_count(value, f"the result of .{method}()")
            elif method == "translate" and args and isinstance(args[0], Mapping):
                longest = max((_text_size(value) for value in args[0].values()), default=1)
                if len(owner) * longest > MAX_TEXT:
                    raise _too_long("the result of .translate()")
            elif method == "replace" and len(args) >= 2:
                _check_replace(owner, str(args[0]), str(args[1]))
            elif method == "join" and args:
                items = list(args[0])
                if _text_size(items) + len(owner) * len(items) > MAX_TEXT:
                    raise _too_long("the result of .join()")
                args = (items,) + args[1:]
        return super().call(__context, __obj, *args, **kwargs)


def _check_replace(text: str, old: str, new: str) -> None:
    occurrences = len(text) + 1 if old == "" else text.count(old)
    if len(text) + occurrences * (len(new) - len(old)) > MAX_TEXT:
        raise _too_long("the result of replace")


def _replace_node(tree: nodes.Node, old: nodes.Node, new: nodes.Node) -> None:
    """Put `new` where `old` is in the tree (a node is in exactly one parent field)."""
    for parent in tree.find_all(nodes.Node):
        for field in parent.fields:
            value = getattr(parent, field, None)
            if value is old:
                setattr(parent, field, new)
                return
            if isinstance(value, list) and any(item is old for item in value):
                setattr(parent, field, [new if item is old else item for item in value])
                return
    for field in tree.fields:  # the template's own body
        value = getattr(tree, field)
        if isinstance(value, list) and any(item is old for item in value):
            setattr(tree, field, [new if item is old else item for item in value])


ENVIRONMENT = BoundedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False, finalize=_printed)


def compile_template(source: str) -> Template:
    """The compiled template; raises jinja2.TemplateSyntaxError or TemplateRenderError."""
    try:
        return ENVIRONMENT.from_string(source)
    except TemplateError:
        raise
    except (RecursionError, MemoryError, SyntaxError):
        raise TemplateRenderError("the template nests too deeply") from None


def render(template: Template, values: Mapping[str, Any]) -> str:
    """Render with a fresh budget and an output bound; every failure is a TemplateRenderError."""
    token = _BUDGET.set(_Budget())
    try:
        pieces: list[str] = []
        size = 0
        for piece in template.generate(dict(values)):
            size += len(piece)
            if size > MAX_TEXT:
                raise _too_long("the rendered text")
            pieces.append(piece)
        return "".join(pieces)
    except TemplateRenderError as error:
        error.lineno = error.lineno or _template_line(error)
        raise
    except RecursionError as error:
        raise TemplateRenderError("the template recurses too deeply (a macro or recursive loop that never stops?)", _template_line(error)) from None
    except MemoryError as error:
        raise TemplateRenderError("the template needs too much memory", _template_line(error)) from None
    except Exception as error:  # a template is user code: whatever it raises is an input problem
        message = getattr(error, "message", None) or str(error) or type(error).__name__
        raise TemplateRenderError(message, _template_line(error)) from None
    finally:
        _BUDGET.reset(token)


def _template_line(error: BaseException) -> int | None:
    """The template line the error was raised at, from Jinja's rewritten traceback."""
    lineno = None
    trace = error.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == "<template>":
            lineno = trace.tb_lineno
        trace = trace.tb_next
    return lineno


__all__ = ["ENVIRONMENT", "MAX_TEXT", "BoundedEnvironment", "TemplateRenderError", "compile_template", "render"]
