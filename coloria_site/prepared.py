"""Queries that pages make on every request, their SQL compiled once per process.

Django builds a query and compiles its SQL anew each time it runs: some 0.2 ms of CPU for a
session's or a user's, 0.5 ms and more for a job with its photo and result, several times what
SQLite takes to answer them. Their shape never changes, only the values they compare with, so
`PreparedQuery` keeps the SQL that the ORM compiled for stand-in values and runs it with each
call's values through the ORM's own row readers (the same instances, related objects and
converters as the query would give).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Sequence
from typing import Any

from django.core.exceptions import EmptyResultSet, ValidationError
from django.db import connections, router
from django.db.models import Model, QuerySet


class _Query:
    """The stand-in query, answering with the compiler that holds the call's SQL."""

    def __init__(self, query: Any, compiler: Any) -> None:
        self._query, self._compiler = query, compiler

    def get_compiler(self, *args: Any, **kwargs: Any) -> Any:
        return self._compiler

    def __getattr__(self, name: str) -> Any:
        return getattr(self._query, name)


class _Bound:
    """What the ORM's row readers (a QuerySet's `_iterable_class`) read of their QuerySet."""

    def __init__(self, queryset: QuerySet, compiler: Any) -> None:
        self.model, self.db = queryset.model, queryset.db
        self._fields, self._known_related_objects = queryset._fields, {}
        self.query = _Query(queryset.query, compiler)


class PreparedQuery:
    """`build(*values)`, a QuerySet (of rows, values, or a slice of them; no prefetching, not a
    related manager's), with its SQL compiled once per database. `fields`: the model field each
    value is compared with, in `build`'s order. `stand_ins`: two sets of distinct values, one of
    each field; the query is compiled with each to find which of the SQL's parameters are the
    values (the rest are constants of the query). A query whose SQL changes with the values, or
    that does more with a value than compare with it (a `startswith`), is built and compiled
    each time. What decides the query's shape (who is asking) is the caller's to keep apart:
    one PreparedQuery a shape."""

    def __init__(
        self,
        model: type[Model],
        build: Callable[..., QuerySet],
        fields: Sequence[str],
        stand_ins: tuple[Sequence[Any], Sequence[Any]],
    ) -> None:
        self.model, self.build = model, build
        self.fields, self.stand_ins = tuple(fields), stand_ins
        self._lock = threading.Lock()
        # Per database alias and vendor: the SQL; its parameters, each (the index of the value it
        # is, None) or (None, a constant); the stand-in QuerySet and its compiler. None: compile
        # each time.
        self._compiled: dict[tuple[str, str], tuple | None] = {}

    def all(self, *values: Any) -> list[Any]:
        """What `list(build(*values))` gives."""
        alias = router.db_for_read(self.model)
        connection = connections[alias]
        key = (alias, connection.vendor)
        if key not in self._compiled:
            with self._lock:
                self._compiled[key] = self._compile(alias)
        compiled = self._compiled[key]
        # None is no value to compare with (the ORM writes IS NULL): such a call is compiled.
        if compiled is None or any(value is None for value in values):
            return list(self.build(*values).using(alias))
        sql, slots, queryset, kept = compiled
        prepared = self._prepare(values, connection)
        params = [constant if index is None else prepared[index] for index, constant in slots]
        # A copy of the compiler that compiled the stand-in query (its columns, related objects
        # and converters are this query's), on this thread's connection, with this call's SQL.
        compiler = copy.copy(kept)
        compiler.connection = connection
        compiler.as_sql = lambda *args, **kwargs: (sql, params)
        return list(queryset._iterable_class(_Bound(queryset, compiler)))

    def first(self, *values: Any) -> Any | None:
        """The first of `all` (for queries of one row or none), else None."""
        found = self.all(*values)
        return found[0] if found else None

    def _prepare(self, values: Sequence[Any], connection: Any) -> list[Any]:
        """The values as the ORM passes them to the database (each through its field)."""
        return [
            self.model._meta.get_field(name).get_db_prep_value(value, connection)
            for name, value in zip(self.fields, values, strict=True)
        ]

    def _compile(self, alias: str) -> tuple | None:
        connection = connections[alias]
        compiled = []
        try:
            for stand_ins in self.stand_ins:
                queryset = self.build(*stand_ins).using(alias)
                compiler = queryset.query.get_compiler(using=alias)
                compiled.append((queryset, compiler, *compiler.as_sql()))
            marks, other_marks = (self._prepare(each, connection) for each in self.stand_ins)
        # A query that finds nothing without asking the database, or stand-ins its fields do
        # not take (a swapped user model's keys): compiled each time.
        except (EmptyResultSet, ValidationError, ValueError, TypeError):
            return None
        (queryset, compiler, sql, params), (_, _, other_sql, other_params) = compiled
        if sql != other_sql or len(params) != len(other_params):
            return None
        if queryset._known_related_objects or queryset._prefetch_related_lookups:
            return None
        slots: list[tuple[int | None, Any]] = []
        for param, other in zip(params, other_params, strict=True):
            if param == other:
                slots.append((None, param))
                continue
            index = next((i for i, mark in enumerate(marks) if mark == param), None)
            if index is None or other_marks[index] != other:
                return None
            slots.append((index, None))
        if {index for index, _ in slots} - {None} != set(range(len(self.fields))):
            return None
        return sql, tuple(slots), queryset, compiler
