from tests.bot.conftest import shared_index  # noqa: F401  (fixture: one index build for the session)
