"""FHIRPath cases for ``generalize`` (Microsoft's ``cases``): ``{condition on $this: result}``, in order.

The value becomes a FHIRPath literal (``@2001-03-04`` for a date or date-time, a quoted string otherwise),
written in place of ``$this``; the first condition that evaluates to true gives the result expression's
value. The syntax check is shared with the FHIRPath rules of the policy file.
"""

from __future__ import annotations

import re
from typing import Any

from antlr4 import CommonTokenStream, InputStream, Token
from antlr4.error.ErrorListener import ErrorListener
from fhirpathpy import evaluate
from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

_DATE = re.compile(r"\d{4}(?:-\d{2}(?:-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)?)?")
_SAMPLES = ("@2000-01-01", "'sample'", "0")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


class _Errors(ErrorListener):
    def __init__(self) -> None:
        self.messages: list[str] = []

    def syntaxError(self, recognizer: Any, offending: Any, line: int, column: int, msg: str, e: Any) -> None:
        self.messages.append(f"column {column + 1}: {msg}")


def syntax_problem(expression: str) -> str | None:
    """What the FHIRPath grammar finds wrong with ``expression`` (None: it parses whole)."""
    errors = _Errors()
    lexer = FHIRPathLexer(InputStream(expression))
    lexer.removeErrorListeners()
    lexer.addErrorListener(errors)
    tokens = CommonTokenStream(lexer)
    parser = FHIRPathParser(tokens)
    parser.removeErrorListeners()
    parser.addErrorListener(errors)
    parser.expression()
    if not errors.messages and tokens.LA(1) != Token.EOF:
        errors.messages.append(f"column {tokens.LT(1).column + 1}: unexpected {tokens.LT(1).text!r}")
    return f"not valid FHIRPath ({errors.messages[0]})" if errors.messages else None


def literal(value: str) -> str:
    """``value`` as a FHIRPath literal: a date or date-time, else a string."""
    if _DATE.fullmatch(value):
        return "@" + value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def cases_problem(cases: list[tuple[str, str]]) -> str | None:
    """What is wrong with a list of ``(condition, result)`` expressions (syntax, an unknown function)."""
    for condition, result in cases:
        for expression in (condition, result):
            problem = syntax_problem(expression)
            if problem:
                return f"{expression!r}: {problem}"
            failures = [_failure(expression.replace("$this", sample)) for sample in _SAMPLES]
            if all(failures):  # a date case need not take a string, nor a string case a date: one must work
                return f"{expression!r}: FHIRPath cannot evaluate it ({failures[-1]})"
    return None


def _failure(expression: str) -> str | None:
    try:
        evaluate({}, expression)
    except Exception as exc:  # fhirpathpy raises bare Exception for an unknown function or a type clash
        return str(exc)[:120]
    return None


def apply_cases(value: str, cases: list[tuple[str, str]]) -> str | None:
    """The result of the first case whose condition holds for ``value`` (None: no case holds)."""
    readings = [literal(value), *([value] if _NUMBER.fullmatch(value) else [])]  # '10', then 10
    for condition, result in cases:
        for this in readings:
            try:
                holds = evaluate({}, condition.replace("$this", this)) == [True]
                found = evaluate({}, result.replace("$this", this)) if holds else []
            except Exception:  # noqa: S112 - a case of another type (a date case on a string) does not hold
                continue
            if holds:
                return str(getattr(found[0], "asStr", None) or found[0]) if found else None
            break
    return None
