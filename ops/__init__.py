"""Process management for `make run` and the tests: embedded Redis, supervisor, locks.

Each module has one job: `proc` (spawning/stopping process groups), `redis_server`,
`instance_lock`, `output` (prefixed console lines), `supervisor` (ordered children),
`run` (the `make run` entry point wiring them together).
"""
