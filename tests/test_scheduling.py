"""How the suite is handed out to pytest-xdist's workers (tests/conftest.py): one test at a time (--dist loadgroup),
so the slow modules collected first start on every worker at once; a module whose tests share a module-wide fixture
is one xdist group, run whole on one worker, which makes the fixture once."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="module")
def made_once() -> object:
    return object()


def test_a_module_whose_tests_share_a_fixture_is_one_xdist_group(request, made_once):
    assert [mark.args for mark in request.node.iter_markers("xdist_group")] == [("test_scheduling.py",)]
    if os.environ.get("PYTEST_XDIST_WORKER"):  # a worker: the group is in the test's id, which the scheduler reads
        assert request.config.getvalue("loadgroup") is True
        assert request.node.nodeid.endswith("@test_scheduling.py")


def test_a_test_sharing_nothing_is_in_the_group_of_its_module(request):
    """The group is the module's: its tests stay together whichever of them use the fixture."""
    assert [mark.args for mark in request.node.iter_markers("xdist_group")] == [("test_scheduling.py",)]
