"""Queries that every signed-in request makes (its session, its user), compiled once per process.

Django builds a query and compiles its SQL anew each time it runs: for these two that is some
0.2 ms of CPU each, several times what SQLite takes to answer them. Their shape never changes,
only the values they compare with, so `PreparedQuery` keeps the SQL that the ORM compiled for
stand-in values and runs it with each call's values through the model manager's `raw()`, which
makes model instances of the rows as the ORM does (the same columns, the database's converters).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connections, router
from django.db.models import Model, QuerySet


class PreparedQuery:
    """`build(*values)`, a query of one model's rows (joins in its filters only, no slicing),
    with its SQL compiled once per database. `fields`: the model field each value is compared
    with, in `build`'s order. `stand_ins`: two sets of distinct values, one of each field; the
    query is compiled with each to find which of the SQL's parameters are the values (the rest
    are constants of the query). A query whose SQL changes with the values, or that does more
    with a value than compare with it (a `startswith`), is built and compiled each time."""

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
        # Per database alias and vendor: the SQL and its parameters, each (the index of the
        # value it is, None) or (None, a constant); None: compile each time.
        self._compiled: dict[tuple[str, str], tuple[str, tuple] | None] = {}

    def first(self, *values: Any) -> Model | None:
        """The first row's instance (the queries here find one row or none), else None."""
        alias = router.db_for_read(self.model)
        connection = connections[alias]
        key = (alias, connection.vendor)
        if key not in self._compiled:
            with self._lock:
                self._compiled[key] = self._compile(alias)
        compiled = self._compiled[key]
        if compiled is None:
            return self.build(*values).using(alias).first()
        sql, slots = compiled
        prepared = self._prepare(values, connection)
        params = [constant if index is None else prepared[index] for index, constant in slots]
        found = self.model._default_manager.db_manager(alias).raw(sql, params)
        return next(iter(found), None)

    def _prepare(self, values: Sequence[Any], connection: Any) -> list[Any]:
        """The values as the ORM passes them to the database (each through its field)."""
        return [
            self.model._meta.get_field(name).get_db_prep_value(value, connection)
            for name, value in zip(self.fields, values, strict=True)
        ]

    def _compile(self, alias: str) -> tuple[str, tuple] | None:
        connection = connections[alias]
        compiled = []
        for stand_ins in self.stand_ins:
            query = self.build(*stand_ins).using(alias).query
            compiled.append(query.get_compiler(using=alias).as_sql())
        (sql, params), (other_sql, other_params) = compiled
        if sql != other_sql or len(params) != len(other_params):
            return None
        marks, other_marks = (self._prepare(each, connection) for each in self.stand_ins)
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
        return sql, tuple(slots)
