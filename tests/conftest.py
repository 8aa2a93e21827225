"""Suite-wide hooks."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _collect_garbage_in_the_test_that_made_it() -> Iterator[None]:
    """A leaked socket or un-awaited coroutine warns when it is collected. Collect after every test, so the warning
    (an error under filterwarnings=error) lands on the test that leaked it, not on whichever test runs next."""
    yield
    gc.collect()
