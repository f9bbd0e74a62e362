"""Workspace: a scratch array comes back only once nothing but the workspace holds it."""

import numpy as np

from ttrain.autograd.workspace import Workspace


def test_an_array_is_reused_only_after_every_holder_and_view_let_go():
    space = Workspace()
    first = space.empty((3, 4), np.float32)
    assert first.shape == (3, 4) and first.dtype == np.float32
    held = space.empty((3, 4), np.float32)
    assert held is not first  # `first` is still referenced here
    view = first[1:]
    del first
    assert space.empty((3, 4), np.float32) is not view.base  # a view keeps its base taken
    base_id = id(view.base)
    del view
    assert id(space.empty((3, 4), np.float32)) == base_id
    assert space.empty((3, 4), np.float64).dtype == np.float64  # one pool per shape and dtype


def test_beyond_the_kept_count_arrays_are_plain_allocations():
    space = Workspace(per_shape=2)
    taken = [space.empty((2,), np.float64) for _ in range(4)]
    assert len({id(a) for a in taken}) == 4
    del taken
    again = [space.empty((2,), np.float64) for _ in range(3)]
    assert len({id(a) for a in again}) == 3  # two kept ones reused, one new
