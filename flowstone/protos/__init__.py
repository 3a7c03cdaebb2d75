"""flowstone's copies of TensorFlow's protos, in a private descriptor pool (see _pool.py).

`from flowstone.protos import graph_pb2; graph_pb2.GraphDef()`. The `*_pb2` modules are
generated from the `.proto` files here by `scripts/compile_protos.py`.
"""
