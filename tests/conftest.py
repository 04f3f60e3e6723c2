"""Test session set-up: the project importable, and the example third-party plug-in registered.

tests/plugins holds a distribution's files as `pip install` would leave them (its package and a
`.dist-info` with entry_points.txt); putting the folder on the import path registers one plug-in of each
kind (space, device, method, variant, solver) for the whole session, so every contract test runs over it
too: the proof that a plug-in outside the package tree is a first-class citizen.
"""
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
PLUGINS = HERE / "plugins"
for p in (str(HERE.parent), str(PLUGINS)):
    if p not in sys.path:
        sys.path.insert(0, p)

from core.registry import refresh_all  # noqa: E402

refresh_all()


import pytest  # noqa: E402


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tests run in parallel workers on two cores: one torch thread each (two would oversubscribe)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
