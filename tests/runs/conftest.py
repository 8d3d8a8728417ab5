import pytest


@pytest.fixture
def inline_queue(transactional_db, settings):
    """Django-Q runs tasks synchronously, at commit, in this process."""
    from django_q.conf import Conf

    old = Conf.SYNC
    Conf.SYNC = True
    settings.ALLOW_PRIVATE_OUTBOUND = True
    from runs.engine_host import scheduler

    scheduler.cache_clear()
    yield
    Conf.SYNC = old
    scheduler.cache_clear()
