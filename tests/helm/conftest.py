"""Fixtures of the chart tests; the rendering helpers are in helmchart.py."""
import pytest

from helmchart import render


@pytest.fixture(scope="session")
def default_render():
    return render()
