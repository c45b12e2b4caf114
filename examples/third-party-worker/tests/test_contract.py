"""All a third party needs: subclass the contract suite, set the attributes, say how to enqueue."""

from prodserver_sqlitequeue import SqliteQueueBackend

from django_prodserver.testing import WorkerContract


class TestSqliteQueueContract(WorkerContract):
    backend_class = SqliteQueueBackend
    entry_point_name = "sqlitequeue"
    example_options = {"queues": ["default"], "poll_interval": 0.1}
    native_override = (("--concurrency", "3"), "--concurrency")
    ready_text = "worker ready: consuming"

    def enqueue_code(self, token: str, seconds: float) -> str:
        # The test project's BASE_DIR is the test's own directory: the queue file lives there.
        return (
            "from prodserver_sqlitequeue import enqueue\n"
            f"enqueue('django_prodserver.testing.project.tasks:touch', [{token!r}, {seconds!r}])\n"
        )
