"""Process management for `make run` and the tests: embedded Redis, supervisor, locks.

Each module has one job: `proc` (spawning/stopping process groups), `ports` (free ports),
`redis_server`, `instance_lock`, `output` (prefixed console lines), `supervisor` (ordered
children), `train` (the Rasa model, retrained only when `bot/` changed), `run` (the
`make run` entry point wiring them together).
"""
