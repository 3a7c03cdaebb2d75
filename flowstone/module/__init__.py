"""tf.Module, object tracking, and object-based checkpoints in TensorFlow's format."""
