"""All a third party needs: subclass the contract suite, set the attributes, say how to enqueue."""

from prodserver_sqlitequeue import SqliteQueueBackend

from django_prodserver.testing import WorkerContract


class TestSqliteQueueContract(WorkerContract):
    backend_class = SqliteQueueBackend
    entry_point_name = "sqlitequeue"
    example_options = {"queues": ["default"], "poll_interval": 0.1}
    # No native_override: the worker has no command line of its own; every option comes in the host
    # plan, and ARGS' --concurrency 3 is read back into it (the test below).
    ready_text = "worker ready: consuming"

    def enqueue_code(self, token: str, seconds: float) -> str:
        # The test project's BASE_DIR is the test's own directory: the queue file lives there.
        return (
            "from prodserver_sqlitequeue import enqueue\n"
            f"enqueue('django_prodserver.testing.project.tasks:touch', [{token!r}, {seconds!r}])\n"
        )


def test_args_reach_the_worker_through_the_host_plan() -> None:
    """``"ARGS": ["--concurrency", "3"]`` sets the option: the plan's host plan carries 3 and the
    command line stays empty (the worker never parses prodserver's flags)."""
    import json

    suite = TestSqliteQueueContract()
    plan = suite.make_backend().plan(suite.make_context(native_args=("--concurrency", "3")))
    assert plan.args == ()
    assert json.loads(plan.env["PRODSERVER_HOST_PLAN"])["concurrency"] == 3
