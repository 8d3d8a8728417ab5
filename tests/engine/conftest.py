"""Fixtures for the pure engine tests (no Django): a test registry and an in-memory engine."""

from __future__ import annotations

import pytest

from .engine_helpers import Calls, Engine, FakeServices, make_test_registry


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def registry(calls):
    return make_test_registry(calls)


@pytest.fixture
def services() -> FakeServices:
    return FakeServices()


@pytest.fixture
def engine(registry, services) -> Engine:
    return Engine(registry, services)
