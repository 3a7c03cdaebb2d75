"""flowstone's TensorFlow protos: generated modules up to date, wire-compatible with TensorFlow."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys

import pytest

from flowstone.protos import (
    checkpoint_state_pb2,
    graph_pb2,
    saved_model_pb2,
    tensor_bundle_pb2,
    tensor_pb2,
    trackable_object_graph_pb2,
    types_pb2,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROTO_DIR = os.path.join(ROOT, "flowstone", "protos")
MODULES = sorted(f[:-6] + "_pb2" for f in os.listdir(PROTO_DIR) if f.endswith(".proto"))


def test_generated_modules_are_up_to_date():
    pytest.importorskip("grpc_tools")
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "compile_protos.py"), "--check"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, f"run scripts/compile_protos.py:\n{proc.stdout}{proc.stderr}"


def test_every_proto_has_a_module_in_the_private_pool():
    from google.protobuf import descriptor_pool

    from flowstone.protos import _pool

    for name in MODULES:
        module = importlib.import_module(f"flowstone.protos.{name}")
        assert module.DESCRIPTOR.pool is _pool.POOL
    with pytest.raises(KeyError):
        descriptor_pool.Default().FindMessageTypeByName("tensorflow.GraphDef")


def test_enums_and_nested_messages():
    assert types_pb2.DT_BFLOAT16 == 14 and types_pb2.DataType.Name(20) == "DT_RESOURCE"
    assert types_pb2.DataType.Value("DT_FLOAT4_E2M1FN_REF") == 133
    dim = graph_pb2.GraphDef().node.add().attr["shape"].shape.dim.add(size=3)
    assert dim.size == 3
    assert tensor_bundle_pb2.BundleHeaderProto.BIG == 1


def test_round_trip_graph_def():
    g = graph_pb2.GraphDef()
    node = g.node.add(name="c", op="Const")
    node.attr["dtype"].type = types_pb2.DT_FLOAT
    node.attr["value"].tensor.dtype = types_pb2.DT_FLOAT
    node.attr["value"].tensor.float_val.append(1.5)
    g.versions.producer = 2474
    g.library.function.add().signature.name = "f"
    again = graph_pb2.GraphDef.FromString(g.SerializeToString())
    assert again == g
    assert again.node[0].attr["value"].tensor.float_val == [1.5]


def test_object_graph_and_saved_model_messages():
    og = trackable_object_graph_pb2.TrackableObjectGraph()
    n = og.nodes.add()
    n.children.add(node_id=1, local_name="v")
    n.has_checkpoint_values.value = True
    assert trackable_object_graph_pb2.TrackableObjectGraph.FromString(og.SerializeToString()) == og
    sm = saved_model_pb2.SavedModel(saved_model_schema_version=1)
    mg = sm.meta_graphs.add()
    mg.meta_info_def.tags.append("serve")
    mg.signature_def["serving_default"].inputs["x"].name = "x:0"
    mg.object_graph_def.nodes.add().user_object.identifier = "_generic_user_object"
    assert saved_model_pb2.SavedModel.FromString(sm.SerializeToString()) == sm


def test_checkpoint_state_text_format():
    from google.protobuf import text_format

    state = text_format.Parse(
        'model_checkpoint_path: "ckpt-2"\nall_model_checkpoint_paths: "ckpt-2"\n',
        checkpoint_state_pb2.CheckpointState(),
    )
    assert state.all_model_checkpoint_paths == ["ckpt-2"]


# --- against real TensorFlow ----------------------------------------------------------------

_DUMP = """
import importlib
from google.protobuf import descriptor_pool
for m in args["modules"]:
    importlib.import_module(m)
pool = descriptor_pool.Default()
def fields(d, out):
    out[d.full_name] = sorted([f.name, f.number, f.type, f.is_repeated,
        (f.message_type or f.enum_type).full_name if (f.message_type or f.enum_type) else "",
        f.containing_oneof.name if f.containing_oneof else ""] for f in d.fields)
    for n in d.nested_types: fields(n, out)
    for e in d.enum_types: out[e.full_name] = sorted([v.name, v.number] for v in e.values)
result = {}
for name in args["messages"]:
    try:
        fields(pool.FindMessageTypeByName(name), result)
    except KeyError:
        e = pool.FindEnumTypeByName(name)
        result[name] = sorted([v.name, v.number] for v in e.values)
"""

_TF_MODULES = [f"tensorflow.core.framework.{n}_pb2" for n in (
    "types tensor_shape tensor resource_handle attr_value node_def op_def function versions graph "
    "tensor_slice variable full_type graph_debug_info").split()] + [
    f"tensorflow.core.protobuf.{n}_pb2" for n in (
        "tensor_bundle trackable_object_graph saver meta_graph saved_model saved_object_graph struct "
        "fingerprint").split()] + ["tensorflow.python.training.checkpoint_state_pb2"]


def _our_fields(names):
    from flowstone.protos import _pool

    out = {}

    def fields(d):
        out[d.full_name] = sorted(
            [f.name, f.number, f.type, f.is_repeated,
             (f.message_type or f.enum_type).full_name if (f.message_type or f.enum_type) else "",
             f.containing_oneof.name if f.containing_oneof else ""]
            for f in d.fields
        )
        for n in d.nested_types:
            fields(n)
        for e in d.enum_types:
            out[e.full_name] = sorted([v.name, v.number] for v in e.values)

    for name in names:
        try:
            fields(_pool.POOL.FindMessageTypeByName(name))
        except KeyError:
            e = _pool.POOL.FindEnumTypeByName(name)
            out[name] = sorted([v.name, v.number] for v in e.values)
    return out


@pytest.mark.oracle
def test_every_message_matches_tensorflows_descriptors(tf_oracle):
    from flowstone.protos import _pool

    for name in MODULES:
        importlib.import_module(f"flowstone.protos.{name}")
    names = []
    for name in MODULES:
        fd = _pool.POOL.FindFileByName(f"flowstone/protos/{name[:-4]}.proto")
        names += [m.full_name for m in fd.message_types_by_name.values()]
        names += [e.full_name for e in fd.enum_types_by_name.values()]
    theirs = tf_oracle(_DUMP, {"modules": _TF_MODULES, "messages": names})
    ours = _our_fields(names)
    assert set(ours) == set(theirs)
    for name in ours:
        assert ours[name] == theirs[name], name


@pytest.mark.oracle
def test_parses_bytes_written_by_tensorflow(tf_oracle):
    out = tf_oracle(
        """
        @tf.function
        def f(x):
            return tf.matmul(x, x) + 1.0
        g = f.get_concrete_function(tf.TensorSpec([2, 2], tf.float32)).graph.as_graph_def()
        p = tf.make_tensor_proto(np.array([[1.5, -2.0]], np.float32))
        h = tf.make_tensor_proto(np.array([1.5, 2.0], np.float16)[:1])
        result = {"graph": g.SerializeToString().hex(), "tensor": p.SerializeToString().hex(),
                  "half": h.SerializeToString().hex(), "ops": [n.op for n in g.node]}
        """
    )
    g = graph_pb2.GraphDef.FromString(bytes.fromhex(out["graph"]))
    assert [n.op for n in g.node] == out["ops"]
    assert "MatMul" in out["ops"]
    # Map entries may be ordered differently; the content (and so the size) is the same.
    assert len(g.SerializeToString()) == len(bytes.fromhex(out["graph"]))
    assert g.node[-1].attr["T"].type == types_pb2.DT_FLOAT or any(n.attr["T"].type == 1 for n in g.node)
    t = tensor_pb2.TensorProto.FromString(bytes.fromhex(out["tensor"]))
    assert t.dtype == types_pb2.DT_FLOAT and [d.size for d in t.tensor_shape.dim] == [1, 2]
    assert len(t.tensor_content) == 8
    half = tensor_pb2.TensorProto.FromString(bytes.fromhex(out["half"]))
    assert half.dtype == types_pb2.DT_HALF and list(half.half_val) == [15872]
