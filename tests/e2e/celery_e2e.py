"""End-to-end test: a real Celery worker processes ~300 tasks through the server.

    python celery_e2e.py PORT

The broker is the kombu Redis transport on db 0, the result backend is the
Redis backend on db 1 (`?protocol=3`: RESP3, as redis-py's default). This file
is also the Celery app the worker imports (`celery -A celery_e2e worker`),
which reads the port from RINGBUS_E2E_PORT. The test starts one worker
(threads pool), waits for it to answer a control ping, sends plain tasks,
tasks with kwargs, failing ones, retried ones, a group, a chord and a chain,
checks every result, then shuts the worker down with a broadcast `shutdown`
and expects it to exit 0. Exits non-zero with the reason and the worker's
output on the first problem.
"""

import os
import subprocess
import sys
import tempfile
import time

from celery import Celery, chain, chord, group

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: celery_e2e.py PORT")
    os.environ["RINGBUS_E2E_PORT"] = sys.argv[1]
PORT = int(os.environ["RINGBUS_E2E_PORT"])
HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS_TIMEOUT = 60  # seconds for all the results together
WORKER_NAME = f"e2e@ringbus-{PORT}"

app = Celery(
    "celery_e2e",
    broker=f"redis://127.0.0.1:{PORT}/0",
    backend=f"redis://127.0.0.1:{PORT}/1?protocol=3",
)
app.conf.update(
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=600,
    worker_hijack_root_logger=False,
)


@app.task
def add(x, y):
    return x + y


@app.task
def mul(x, y):
    return x * y


@app.task
def xsum(numbers):
    return sum(numbers)


@app.task
def greet(name, *, greeting="hello", punct="!", times=1):
    return " ".join([f"{greeting} {name}{punct}"] * times)


@app.task
def boom(i):
    raise ValueError(f"boom {i}")


@app.task(bind=True, max_retries=3)
def flaky(self, i):
    """Retries itself once (countdown 0), then returns."""
    if self.request.retries == 0:
        raise self.retry(countdown=0, exc=RuntimeError(f"flaky {i}"))
    return {"i": i, "retries": self.request.retries}


def fail(msg, worker_log=None):
    if worker_log is not None:
        worker_log.seek(0)
        lines = worker_log.read().splitlines()
        print(f"---- worker output (last {min(150, len(lines))} of {len(lines)} lines) ----",
              file=sys.stderr)
        print("\n".join(lines[-150:]), file=sys.stderr)
    print(f"celery_e2e: FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def protocols():
    """RESP version of a broker and a backend connection, as redis-py set them up."""
    with app.connection_for_write() as conn:
        client = conn.default_channel.client
        c = client.connection_pool.get_connection()
        broker = c.protocol
        client.connection_pool.release(c)
    pool = app.backend.client.connection_pool
    c = pool.get_connection()
    backend = c.protocol
    pool.release(c)
    return broker, backend


def run_tasks(worker_log):
    """Send every task, then check every result: (results checked, tasks sent)."""
    checks = []  # (description, AsyncResult, check(result) -> error or None)
    deadline = time.monotonic() + RESULTS_TIMEOUT

    def timeout():
        """What is left of RESULTS_TIMEOUT (at least a second) for the next get()."""
        return max(1.0, deadline - time.monotonic())

    def expect_value(desc, res, want):
        checks.append((desc, res, lambda r: None if r.get(timeout=timeout()) == want
                       else f"got {r.result!r}, expected {want!r}"))

    for i in range(166):
        expect_value(f"add({i}, {i})", add.delay(i, i), 2 * i)
    for i in range(50):
        kwargs = {"greeting": "hi", "times": 1 + i % 3} if i % 2 else {"punct": "?"}
        res = greet.apply_async(args=(f"n{i}",), kwargs=kwargs)
        g, p, t = kwargs.get("greeting", "hello"), kwargs.get("punct", "!"), kwargs.get("times", 1)
        expect_value(f"greet(n{i}, **{kwargs})", res, " ".join([f"{g} n{i}{p}"] * t))
    for i in range(20):
        res = boom.delay(i)

        def failed(r, i=i):
            r.get(timeout=timeout(), propagate=False)
            if r.state != "FAILURE" or not isinstance(r.result, ValueError) \
                    or str(r.result) != f"boom {i}":
                return f"state {r.state}, result {r.result!r}, expected FAILURE ValueError('boom {i}')"
            return None
        checks.append((f"boom({i})", res, failed))
    for i in range(20):
        expect_value(f"flaky({i})", flaky.delay(i), {"i": i, "retries": 1})

    # A group of 20, a chord of 20 (header results summed by the body), a chain.
    grp = group(mul.s(i, 3) for i in range(20)).apply_async()
    checks.append(("group mul(i, 3)", grp,
                   lambda r: None if r.get(timeout=timeout()) == [3 * i for i in range(20)]
                   else f"got {r.get(timeout=1)!r}"))
    chd = chord(add.s(i, 100) for i in range(20))(xsum.s())
    expect_value("chord(add(i, 100)) | xsum", chd, sum(i + 100 for i in range(20)))
    chn = chain(add.s(1, 2), mul.s(10), add.s(5)).apply_async()
    expect_value("chain add(1,2) | mul(10) | add(5)", chn, 35)

    problems = []
    for desc, res, check in checks:
        try:
            err = check(res)
        except Exception as e:  # a timeout or an unexpected exception
            err = f"{type(e).__name__}: {e}"
        if err:
            problems.append(f"{desc} [{res.id}]: {err}")
    if problems:
        fail(f"{len(problems)} of {len(checks)} results wrong:\n  " + "\n  ".join(problems[:40]),
             worker_log)
    return len(checks), 166 + 50 + 20 + 20 + 20 + 20 + 1 + 3


def main():
    import celery
    import kombu
    import redis

    started = time.monotonic()
    broker_proto, backend_proto = protocols()
    print(f"celery {celery.__version__}, kombu {kombu.__version__}, redis-py {redis.__version__}, "
          f"broker RESP{broker_proto}, backend RESP{backend_proto}, port {PORT}")
    if backend_proto != 3:
        fail(f"result backend connection speaks RESP{backend_proto}, expected RESP3")
    app.backend.client.flushall()

    worker_log = tempfile.TemporaryFile("w+")
    cmd = [sys.executable, "-m", "celery", "-A", "celery_e2e", "worker", "--pool=threads",
           "--concurrency=4", "--loglevel=INFO", "--hostname", WORKER_NAME]
    worker = subprocess.Popen(cmd, cwd=HERE, stdout=worker_log, stderr=subprocess.STDOUT)
    try:
        # The worker is up when it answers a broadcast ping through the broker.
        ping_deadline = time.monotonic() + 30
        while not app.control.ping(destination=[WORKER_NAME], timeout=1):
            if worker.poll() is not None:
                fail(f"worker exited with {worker.returncode} before answering ping", worker_log)
            if time.monotonic() > ping_deadline:
                fail("worker did not answer a control ping within 30s", worker_log)
        ready = time.monotonic()

        n, tasks = run_tasks(worker_log)
        done = time.monotonic()

        app.control.shutdown(destination=[WORKER_NAME])
        try:
            rc = worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            fail("worker still running 20s after the shutdown broadcast", worker_log)
        if rc != 0:
            fail(f"worker exited with {rc} after the shutdown broadcast", worker_log)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    print(f"celery_e2e: OK: {tasks} tasks in {n} results checked (incl. 20 failing, 20 retried, "
          f"a group, a chord, a chain); worker ready in {ready - started:.1f}s, "
          f"tasks {done - ready:.1f}s, shutdown {time.monotonic() - done:.1f}s")


if __name__ == "__main__":
    main()
