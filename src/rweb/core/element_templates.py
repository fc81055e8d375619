"""Element functions compiled to templates: a row written ``li(label(...), ...)`` rendered as fast
as the same row written as a :class:`rweb.html.Template`.

A component's function that builds its tree with element functions makes every element, and a
tuple for it, at each render, and every attribute (``type="checkbox"`` too) is a slot of its
output.  Where the function's last statement returns one call of element functions, this
module writes that call as template markup once (the literal text and attributes as statics,
every other argument a hole) and gives the renderer a twin of the function whose last
statement fills the template instead: the same arguments, evaluated in the same order, the
same markup sent.  The renderer calls the twin (:func:`fast`); the component still holds the
function it was given (its identity decides whether it re-renders).

What is folded into markup: calls of rweb's element functions (``rweb.html.div``..., or any
:class:`~rweb.html.ElementFactory`) named by a global of the function's module, nested as
written; their positional children that are literal text, whole numbers, ``None``, ``True``
or ``False``; their keyword attributes whose values are literal text, ``True``, ``False`` or
``None``.  Anything else (a name, an attribute access, a call of another function, a
comprehension, ``"done" if todo.done else None``) is a hole, evaluated where the call
evaluated it.  A call that cannot be folded (``*args`` or ``**attrs``, ``<script>`` or
``<style>``, a void element given children, an attribute the template parser would read
otherwise: upper case, given twice) is a hole too: it makes its element at each render, as
before, and raises what it raised.

A function is not compiled (it runs as written, :func:`why_not` says why) when its source
cannot be read or no longer matches its code (recompiled, its bytecode differs), when it is a
generator or a coroutine, uses ``global`` / ``nonlocal`` or a name starting ``_rweb_`` (the
compiler's own), or when its last statement returns no element call.  The twin checks at each
call that the element functions' names are still bound to the very factories it folded
(``li is <li>``...); if one was rebound, it returns :data:`AS_WRITTEN` and the renderer calls
the function as written.

``RWEB_COMPILE_ELEMENTS=0`` in the environment turns it off (every function runs as written).
"""

from __future__ import annotations
import __future__

import ast
import linecache
import logging
import os
import types
import warnings
from typing import Any

from .html import (
    _RAW_TEXT,
    _VOID,
    ElementFactory,
    Template,
    _counted_as_elements,
    attr_name,
    escape,
)

log = logging.getLogger("rweb.render")


class _AsWritten:
    __slots__ = ()

    def __repr__(self) -> str:
        return "AS_WRITTEN"


AS_WRITTEN: Any = _AsWritten()
"""What a twin returns when one of its element functions' names is no longer bound to the
factory it folded: the renderer then calls the function as written."""

ENABLED: bool = os.environ.get("RWEB_COMPILE_ELEMENTS", "1") != "0"
"""Whether :func:`fast` compiles (``RWEB_COMPILE_ELEMENTS=0``: off, read at import)."""

_CO_NESTED = 0x10  # (the twin is compiled nested in a function that gives its cells)
_PREFIX = "_rweb_"  # the twin's own names: a function using one is not compiled
_CO_NOT = 0x20 | 0x80 | 0x100 | 0x200  # generator, coroutine, iterable coroutine, async generator
_CACHE_MAX = 1024  # bounded: functions, not renders, make entries

# code object -> the twin's code, or the reason it is not compiled (str)
_by_code: dict[types.CodeType, types.CodeType | str] = {}
# a function without a closure -> its twin (or itself): module-level row functions, found at once
_by_fn: dict[Any, Any] = {}
_trees: dict[str, _Source] = {}  # by file name: parsed once while its text is the same


def fast(fn: Any) -> Any:
    """What the renderer calls for ``fn``: its compiled twin, or ``fn`` itself (see the module)."""
    if not ENABLED:
        return fn
    if type(fn) is not types.FunctionType or fn.__closure__ is not None:
        return _twin(fn)  # (a closure's twin shares its cells: made for it, not kept)
    got = _by_fn.get(fn)
    if got is None:
        got = _twin(fn)
        if len(_by_fn) >= _CACHE_MAX:
            _by_fn.clear()
        _by_fn[fn] = got
    return got


def why_not(fn: Any) -> str | None:
    """Why ``fn`` runs as written rather than compiled (None: it is compiled)."""
    if not ENABLED:
        return "RWEB_COMPILE_ELEMENTS=0"
    func = getattr(fn, "__func__", fn)
    if type(func) is not types.FunctionType:
        return f"not a Python function ({type(fn).__name__})"
    got = _compiled(func)
    return got if type(got) is str else None


def _twin(fn: Any) -> Any:
    if type(fn) is types.MethodType:
        inner = fn.__func__
        if type(inner) is not types.FunctionType:
            return fn
        twin = _twin(inner)
        return fn if twin is inner else types.MethodType(twin, fn.__self__)
    if type(fn) is not types.FunctionType:
        return fn
    code = _compiled(fn)
    if type(code) is str:
        return fn
    # Its code closes over the function's very cells, in their order: the same closure tuple.
    twin = types.FunctionType(code, fn.__globals__, fn.__name__, fn.__defaults__, fn.__closure__)  # type: ignore[arg-type]
    if fn.__kwdefaults__:
        twin.__kwdefaults__ = fn.__kwdefaults__
    twin.__qualname__ = fn.__qualname__
    twin.__doc__ = fn.__doc__  # (not its first constant, which may be a placeholder's)
    return twin


def _compiled(fn: types.FunctionType) -> types.CodeType | str:
    code = fn.__code__
    got = _by_code.get(code)
    if got is None:
        try:
            got = _compile(fn)
        except Exception as exc:  # a template the parser refuses, a source it cannot read...: run as written
            got = f"{type(exc).__name__}: {exc}"
        if type(got) is str:
            log.debug("%s (%s:%d) runs as written: %s", code.co_qualname, code.co_filename, code.co_firstlineno, got)
        if len(_by_code) >= _CACHE_MAX:
            _by_code.clear()
        _by_code[code] = got
    return got


def _compile(fn: types.FunctionType) -> types.CodeType | str:
    code = fn.__code__
    if code.co_flags & _CO_NOT:
        return "a generator or a coroutine"
    if any(n.startswith(_PREFIX) for n in (*code.co_names, *code.co_varnames, *code.co_freevars, *code.co_cellvars)):
        return f"it uses a name starting {_PREFIX!r}"
    found = _find(code, fn.__globals__)
    if isinstance(found, str):
        return found
    node, source = found
    body: list[ast.stmt] = (
        [ast.Return(value=node.body, lineno=node.body.lineno, col_offset=node.body.col_offset)]
        if isinstance(node, ast.Lambda) else list(node.body)
    )
    for stmt in body:
        for sub in ast.walk(stmt):
            if isinstance(sub, ast.Global | ast.Nonlocal):
                return "it uses global or nonlocal"
    last = body[-1]
    if not isinstance(last, ast.Return) or last.value is None:
        return "its last statement returns no element call"
    # The original, compiled again here, must be its code: else the source was edited since.
    if not _same_code(_function_code(fn, node, body, source), code):
        return "its source does not compile to its code (edited since it was loaded, or a class's private names)"
    folder = _Folder(fn, code, any(isinstance(n, ast.NamedExpr) for n in ast.walk(last.value)))
    markup = folder.element(last.value)
    if markup is None:
        return "its last statement returns no element call"
    # The template and the element functions are constants of the twin's code: compiled as
    # placeholder strings, then swapped for the objects (no cell, no global of the user's module).
    objects: dict[str, Any] = {}

    def const(obj: Any) -> ast.Constant:
        token = f"\x00rweb:{len(objects)}"
        objects[token] = obj
        return ast.Constant(value=token)

    guard: ast.expr | None = None
    for name, factory in folder.factories.items():
        test = ast.Compare(left=_name(name), ops=[ast.Is()], comparators=[const(factory)])
        guard = test if guard is None else ast.BoolOp(op=ast.And(), values=[guard, test])
    fill = ast.Return(value=ast.Call(
        func=const(_counted_as_elements(Template(markup))), args=[],
        keywords=[ast.keyword(arg=f"h{i}", value=v) for i, v in enumerate(folder.holes)],
    ))
    # An element function's name rebound since: the renderer calls the function as written.
    assert guard is not None  # (the root's element function, at least)
    new_body: list[ast.stmt] = [ast.If(test=guard, body=[*body[:-1], fill], orelse=[ast.Return(value=const(AS_WRITTEN))])]
    for stmt in new_body:
        ast.copy_location(stmt, last)
    with warnings.catch_warnings():  # ("'str' object is not callable", "'is' with a literal": the placeholders)
        warnings.simplefilter("ignore", SyntaxWarning)
        twin = _function_code(fn, node, new_body, source)
    if twin.co_freevars != code.co_freevars:  # pragma: no cover (it reads the names the function reads)
        return "its twin would close over other names"
    return _with_objects(twin, objects)


def _with_objects(code: types.CodeType, objects: dict[str, Any]) -> types.CodeType:
    consts = tuple(objects.get(c, c) if type(c) is str else c for c in code.co_consts)
    return code.replace(co_consts=consts)


class _Source:
    """A file's text, its functions by (their code's name, its first line: a decorated one's
    first decorator's), and the names its top level imports (the compiler calls no method
    through those: ``json.dumps(x)`` compiles otherwise in a module that imports ``json``)."""

    __slots__ = ("functions", "imported", "text")

    def __init__(self, text: str, filename: str) -> None:
        tree = ast.parse(text, filename)
        self.text = text
        self.functions: dict[tuple[str, int], list[ast.FunctionDef | ast.Lambda]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef):
                key = (node.name, min([node.lineno, *(d.lineno for d in node.decorator_list)]))
            elif isinstance(node, ast.Lambda):
                key = ("<lambda>", node.lineno)
            else:
                continue
            self.functions.setdefault(key, []).append(node)
        self.imported: list[ast.stmt] = [
            ast.Import(names=[ast.alias(name="_", asname=name)]) for name in sorted(_top_imports(tree.body))
        ]


def _top_imports(body: list[ast.stmt]) -> set[str]:
    """The names bound by import statements at a module's top level (in its ``if`` and ``try`` blocks too)."""
    out: set[str] = set()
    for stmt in body:
        if isinstance(stmt, ast.Import | ast.ImportFrom):
            out.update((a.asname or a.name).split(".")[0] for a in stmt.names if a.name != "*")
        elif not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(stmt, field, None)
                if isinstance(inner, list):
                    out |= _top_imports(inner)
            for case in getattr(stmt, "cases", ()):
                out |= _top_imports(case.body)
    return out


def _find(code: types.CodeType, module: dict[str, Any]) -> tuple[ast.FunctionDef | ast.Lambda, _Source] | str:
    """The function's node in its file's source, and that source (or why it is not found);
    ``module``: its globals, whose loader gives the source of a module not in a file (a zip)."""
    filename = code.co_filename
    lines = linecache.getlines(filename, module)
    if not lines:
        return "its source is not available"
    text = "".join(lines)
    source = _trees.get(filename)
    if source is None or source.text != text:
        if len(_trees) >= 64:
            _trees.clear()
        source = _trees[filename] = _Source(text, filename)
    found = source.functions.get((code.co_name, code.co_firstlineno), ())
    if len(found) != 1:
        return "its source is not found" if not found else "several functions start on its line"
    return found[0], source


def _function_code(fn: types.FunctionType, node: ast.FunctionDef | ast.Lambda, body: list[ast.stmt], source: _Source) -> types.CodeType:
    """The code of a function with ``node``'s arguments and ``body``, closing over ``fn``'s free
    names: compiled as the inner function of an outer one whose parameters they are, in a module
    that imports what ``source``'s does (never run)."""
    code = fn.__code__
    name = _PREFIX + "inner"  # (not its own name: a function that calls itself reads a global)
    inner = ast.FunctionDef(name=name, args=node.args, body=body, decorator_list=[], returns=None, type_comment=None)
    outer_args = [ast.arg(arg=n) for n in code.co_freevars]
    outer = ast.FunctionDef(
        name=_PREFIX + "outer",
        args=ast.arguments(posonlyargs=[], args=outer_args, vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
        body=[inner, ast.Return(value=_name(name))], decorator_list=[], returns=None, type_comment=None,
    )
    ast.copy_location(inner, node)
    ast.copy_location(outer, node)
    module = ast.Module(body=[*source.imported, outer], type_ignores=[])
    ast.fix_missing_locations(module)
    flags = code.co_flags & _FUTURE_FLAGS
    compiled = compile(module, code.co_filename, "exec", flags=flags, dont_inherit=True)
    outer_code = next(c for c in compiled.co_consts if isinstance(c, types.CodeType))
    got = next(c for c in outer_code.co_consts if isinstance(c, types.CodeType) and c.co_name == name)
    return got.replace(co_name=code.co_name, co_qualname=code.co_qualname)


def _same_code(a: types.CodeType, b: types.CodeType) -> bool:
    """The same bytecode over the same names and constants (nested code alike), line numbers aside."""
    if (a.co_code, a.co_names, a.co_varnames, a.co_freevars, a.co_cellvars, a.co_flags | _CO_NESTED) != (
        b.co_code, b.co_names, b.co_varnames, b.co_freevars, b.co_cellvars, b.co_flags | _CO_NESTED
    ) or len(a.co_consts) != len(b.co_consts):
        return False
    for x, y in zip(a.co_consts, b.co_consts, strict=True):
        if type(x) is not type(y):
            return False
        if isinstance(x, types.CodeType):
            if not _same_code(x, y):
                return False
        elif x != y:
            return False
    return True


# The __future__ flags a function's code carries, which its recompile must be given too.
_FUTURE_FLAGS = (
    __future__.annotations.compiler_flag
    | __future__.generator_stop.compiler_flag
    | __future__.barry_as_FLUFL.compiler_flag
)


def _name(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Load())


class _Folder:
    """Writes an element call as template markup; what it cannot write becomes a hole."""

    def __init__(self, fn: types.FunctionType, code: types.CodeType, walrus: bool) -> None:
        self.globals = fn.__globals__
        # Names that are not the module's globals inside the function.
        self.local = {*code.co_varnames, *code.co_cellvars, *code.co_freevars}
        # Plain locals (not cells) read in several holes share one: nothing in the call can rebind
        # one between two reads (but an assignment expression, ``walrus``).
        self.plain = set() if walrus else set(code.co_varnames) - set(code.co_cellvars)
        self.named: dict[str, str] = {}
        self.factories: dict[str, ElementFactory] = {}
        self.holes: list[ast.expr] = []

    def factory(self, call: ast.expr) -> tuple[ElementFactory, list[str]] | None:
        """The element function ``call`` calls and its attributes' markup names, when it can be folded."""
        if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
            return None
        name = call.func.id
        f = None if name in self.local else self.globals.get(name)
        if type(f) is not ElementFactory or f.tag in _RAW_TEXT or f.tag != f.tag.lower():
            return None
        if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
            return None
        if f.tag in _VOID and call.args:
            return None  # refused at the call: it still is
        names = [attr_name(k.arg) for k in call.keywords]  # type: ignore[arg-type]  # (None: ** above)
        if any(n != n.lower() for n in names) or len(set(names)) != len(names):
            return None
        return f, names

    def hole(self, expr: ast.expr) -> str:
        if isinstance(expr, ast.Name) and expr.id in self.plain:
            got = self.named.get(expr.id)
            if got is not None:
                return got
        self.holes.append(expr)
        got = f"{{h{len(self.holes) - 1}}}"
        if isinstance(expr, ast.Name):
            self.named[expr.id] = got
        return got

    def element(self, call: ast.expr) -> str | None:
        got = self.factory(call)
        if got is None:
            return None
        f, names = got
        assert isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
        self.factories.setdefault(call.func.id, f)
        # The children are evaluated before the attributes, as the call evaluates its arguments.
        kids = [self.child(a) for a in call.args]
        out = ["<", f.tag]
        for k, name in zip(call.keywords, names, strict=True):
            v = k.value
            if isinstance(v, ast.Constant) and (v.value is None or v.value is False):
                continue
            if isinstance(v, ast.Constant) and v.value is True:
                out.append(f" {name}")
            elif isinstance(v, ast.Constant) and type(v.value) is str:
                out.append(f' {name}="{_braces(escape(v.value))}"')
            else:
                out.append(f" {name}={self.hole(v)}")
        out.append(">")
        if f.tag in _VOID:
            return "".join(out)
        out.extend(kids)
        out.append(f"</{f.tag}>")
        return "".join(out)

    def child(self, expr: ast.expr) -> str:
        if isinstance(expr, ast.Constant):
            v = expr.value
            if v is None or type(v) is bool:
                return ""
            if type(v) is str:
                return _braces(escape(v))
            if type(v) is int:
                return str(v)
        folded = self.element(expr)
        return folded if folded is not None else self.hole(expr)


def _braces(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")
