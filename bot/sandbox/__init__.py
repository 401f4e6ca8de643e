"""The no-token sandbox and the test double: a fake Telegram server, the simulator, the terminal.

Production code never imports this package; `make run` without a token, the tests and the
benchmarks do.
"""
