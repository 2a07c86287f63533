"""Fixtures of the account tests: fresh rate-limit counters, fast password hashing."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _accounts_isolation(fresh_cache, fast_passwords):
    # Failed sign-ins are counted in the cache: every test starts from zero, and makes users fast.
    pass
