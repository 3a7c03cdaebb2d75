"""`flowstone demo` runs end to end: it trains to a low loss and round-trips a checkpoint."""

from flowstone import cli, demo


def test_demo_trains_and_restores():
    lines = []
    loss = demo.run(out=lines.append)
    text = "\n".join(lines)
    assert loss < 0.1
    assert "accuracy on the data: 100.00%" in text
    assert "restored, weights equal: True" in text
    assert "InvalidArgumentError" in text


def test_cli_demo_command(capsys):
    assert cli.main(["demo"]) == 0
    assert "tf.function: 400 more steps" in capsys.readouterr().out
