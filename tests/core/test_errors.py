import pickle

import pytest

import flowstone as tf

NAMES = ["CancelledError", "UnknownError", "InvalidArgumentError", "DeadlineExceededError", "NotFoundError",
         "AlreadyExistsError", "PermissionDeniedError", "ResourceExhaustedError", "FailedPreconditionError",
         "AbortedError", "OutOfRangeError", "UnimplementedError", "InternalError", "UnavailableError",
         "DataLossError", "UnauthenticatedError"]


@pytest.mark.parametrize("code,name", list(enumerate(NAMES, start=1)))
def test_classes_and_codes(code, name):
    cls = getattr(tf.errors, name)
    assert issubclass(cls, tf.errors.OpError) and cls.error_code == code
    const = {"InvalidArgumentError": "INVALID_ARGUMENT", "OutOfRangeError": "OUT_OF_RANGE"}.get(name)
    if const:
        assert getattr(tf.errors, const) == code
    err = cls(None, None, "boom")
    assert str(err) == "boom" and err.message == "boom"
    assert isinstance(pickle.loads(pickle.dumps(err)), cls)


def test_single_message_form():
    err = tf.errors.InvalidArgumentError("only a message")
    assert err.message == "only a message"
