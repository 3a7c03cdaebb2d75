"""tf.Module: names, scopes, variable and submodule discovery, and the tracking rules."""

from __future__ import annotations

import collections

import numpy as np
import pytest

import flowstone as tf
from flowstone.module.data_structures import ListWrapper, NoDependency, _DictWrapper, _TupleWrapper


class Dense(tf.Module):
    def __init__(self, n, name=None):
        super().__init__(name=name)
        with self.name_scope:
            self.w = tf.Variable(tf.ones([2, n]), name="w")
            self.b = tf.Variable(tf.zeros([n]), name="b", trainable=False)

    @tf.Module.with_name_scope
    def __call__(self, x):
        return tf.matmul(x, self.w) + self.b


class Net(tf.Module):
    def __init__(self):
        super().__init__()
        self.layers = [Dense(2), Dense(2, name="second")]
        self.d = {"z": tf.Variable(1.0, name="z"), "a": [tf.Variable(2, name="a0")], "n": 3}
        self.t = (tf.Variable(3.0, name="t0"), 5)
        self._private = tf.Variable(4.0, name="priv")
        self.plain = [1, 2]


class Empty(tf.Module):
    pass


def test_names():
    assert Empty().name == "empty"
    assert Empty(name="x").name == "x"

    class MyHTTPModule(tf.Module):
        pass

    assert MyHTTPModule().name == "my_http_module"
    with pytest.raises(ValueError, match="'a b' is not a valid module name. Module names must be valid"):
        Empty(name="a b")


def test_name_scope_is_fixed_at_construction():
    with tf.name_scope("outer"):
        m = Empty()
        assert tf.Variable(1.0, name="v").name == "outer/v:0"
    assert m.name_scope.name == "outer/empty/"
    with m.name_scope:
        assert tf.Variable(1.0, name="v").name == "outer/empty/v:0"


def test_variables_order_matches_tensorflow():
    # Orders checked against TensorFlow 2.21 on the same class definitions.
    net = Net()
    assert [v.name for v in net.variables] == [
        "priv:0", "a0:0", "z:0", "t0:0", "dense/b:0", "dense/w:0", "second/b:0", "second/w:0"]
    assert [v.name for v in net.trainable_variables] == [
        "priv:0", "a0:0", "z:0", "t0:0", "dense/w:0", "second/w:0"]
    assert [v.name for v in net.non_trainable_variables] == ["dense/b:0", "second/b:0"]
    assert [m.name for m in net.submodules] == ["dense", "second"]


def test_flatten_with_path():
    net = Net()
    paths = dict(net._flatten(predicate=lambda v: isinstance(v, tf.Variable), with_path=True))
    assert paths[("d", "a", 0)].name == "a0:0"
    assert paths[("layers", 1, "w")].name == "second/w:0"
    assert list(net._flatten(recursive=False, predicate=lambda m: isinstance(m, tf.Module))) == list(net.layers)


def test_shared_and_cyclic_modules_are_reported_once():
    a, b = Empty(), Empty()
    a.v = tf.Variable(1.0)
    a.b, b.a = b, a
    a.again = a.v
    assert len(a.variables) == 1
    assert a.submodules == (b,)


def test_with_name_scope_and_call():
    d = Dense(3)
    out = d(tf.ones([1, 2]))
    np.testing.assert_allclose(out.numpy(), [[2.0, 2.0, 2.0]])


def test_containers_are_wrapped():
    net = Net()
    assert type(net.layers) is ListWrapper and isinstance(net.layers, list)
    assert type(net.d) is _DictWrapper and isinstance(net.d, dict)
    assert type(net.t) is _TupleWrapper and isinstance(net.t, tuple)
    assert type(net.d["a"]) is ListWrapper
    assert net.layers == [net.layers[0], net.layers[1]]
    assert repr(net.plain) == "ListWrapper([1, 2])"
    m = Empty()
    m.t = (1, 2)
    assert type(m.t) is tuple
    m.n = NoDependency([tf.Variable(1.0)])
    assert type(m.n) is list and "n" not in m._trackable_children()


def test_trackable_children_names():
    net = Net()
    assert list(net._trackable_children()) == ["layers", "d", "t", "_private", "plain"]
    assert list(net.layers._trackable_children()) == ["0", "1"]
    assert sorted(net.d._trackable_children()) == ["a", "z"]
    assert list(net.t._trackable_children()) == ["0"]
    point = collections.namedtuple("Point", "a b")
    m = Empty()
    m.p = point(tf.Variable(1.0), 2)
    assert list(m.p._trackable_children()) == ["a"] and m.p.a is m.p[0]


def test_reassign_and_delete_attributes():
    m = Empty()
    m.v = tf.Variable(1.0)
    m.w = tf.Variable(2.0)
    m.v = tf.Variable(3.0)
    assert list(m._trackable_children()) == ["v", "w"] and m._trackable_children()["v"].numpy() == 3.0
    m.v = 5
    assert list(m._trackable_children()) == ["w"]
    del m.w
    assert m._trackable_children() == {}


def test_list_mutations():
    m = Empty()
    m.l = []
    m.l.append(tf.Variable(1.0))
    m.l.extend([tf.Variable(2.0)])
    m.l += [tf.Variable(3.0)]
    assert list(m.l._trackable_children()) == ["0", "1", "2"]
    m.l.reverse()
    with pytest.raises(ValueError, match="A list element was replaced"):
        m.l._trackable_children()
    m.ints = [3, 1]
    m.ints.sort()
    assert m.ints._trackable_children() == {}


def test_list_modified_outside_the_wrapper():
    m = Empty()
    original = []
    m.l = original
    original.append(tf.Variable(1.0))
    with pytest.raises(ValueError, match="modified outside the wrapper"):
        m.l._trackable_children()


def test_dict_with_non_string_key_cannot_be_saved():
    m = Empty()
    m.d = {1: tf.Variable(1.0)}
    with pytest.raises(ValueError, match="non-string key"):
        m.d._trackable_children()
    m.ok = {1: "x"}
    assert m.ok._trackable_children() == {}
