"""End-to-end test: real RQ workers process 300 jobs through the server on PORT.

    python rq_e2e.py PORT

Enqueues jobs of five kinds (plain, args/kwargs, retried once, failing,
depending on another job) on two queues, runs two `rq worker --burst`
processes at once (the default forking Worker and a SimpleWorker), then, if
rq left dependents behind (see below), up to two more rounds of one, and
checks every job's status and result and the registries. The redis-py connections,
the test's and the workers', speak RESP3 (`?protocol=3`). Exits non-zero with
the reason and the workers' output on the first problem.
"""

import os
import subprocess
import sys
import tempfile
import time

import redis
import rq
from redis import Redis
from rq import Queue, Retry, Worker
from rq.job import Job, JobStatus
from rq.registry import (DeferredJobRegistry, FailedJobRegistry, FinishedJobRegistry,
                         ReadyJobRegistry)

import rq_jobs

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER_TIMEOUT = 90  # seconds for all the burst workers to finish


def fail(msg, logs=()):
    for name, text in logs:
        print(f"---- {name} ----\n{text}", file=sys.stderr)
    print(f"rq_e2e: FAILED: {msg}", file=sys.stderr)
    sys.exit(1)


def worker_logs(logs, tail=80):
    """(name, last lines) of each worker's output, for failure reports."""
    out = []
    for name, log in logs:
        log.seek(0)
        lines = log.read().splitlines()
        out.append((f"{name} (last {min(tail, len(lines))} of {len(lines)} lines)",
                    "\n".join(lines[-tail:])))
    return out


def run_workers(r, classes, url, port, started, logs):
    """Run one `rq worker --burst` per class at once until all exit."""
    procs = []
    for k, cls in enumerate(classes):
        name = f"e2e-r{r + 1}w{k}-{port}"
        log = tempfile.TemporaryFile("w+")
        cmd = [sys.executable, "-m", "rq.cli", "worker", "--burst", "--url", url,
               "--path", HERE, "--worker-class", cls, "--name", name, "high", "default"]
        procs.append(subprocess.Popen(cmd, cwd=HERE, stdout=log, stderr=subprocess.STDOUT))
        logs.append((f"worker {name} ({cls})", log))
    deadline = started + WORKER_TIMEOUT
    for proc in procs:
        try:
            proc.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for p in procs:
                p.kill()
                p.wait()
            fail(f"burst workers still running after {WORKER_TIMEOUT}s", worker_logs(logs))
    for proc, (name, _) in zip(procs, logs[-len(procs):]):
        if proc.returncode != 0:
            fail(f"{name} exited with {proc.returncode}", worker_logs(logs))


def main():
    port = int(sys.argv[1])
    url = f"redis://127.0.0.1:{port}/0?protocol=3"
    conn = Redis.from_url(url)
    conn.flushdb()
    c = conn.connection_pool.get_connection()
    proto = c.protocol
    conn.connection_pool.release(c)
    if proto != 3:
        fail(f"redis-py connection speaks RESP{proto}, expected RESP3")
    print(f"rq {rq.__version__}, redis-py {redis.__version__}, RESP{proto}, port {port}")

    default = Queue("default", connection=conn)
    high = Queue("high", connection=conn)
    expected = {}  # job id -> ("finished", value) or ("failed", text in exc_info)

    # 1. plain function, 110 on the default queue and 10 on the high one
    adds = []
    for i in range(120):
        q = high if i % 12 == 0 else default
        job = q.enqueue(rq_jobs.add, i, 2 * i)
        adds.append((job, 3 * i))
        expected[job.id] = ("finished", 3 * i)
    # 2. args and kwargs, and job meta written by the job
    for i in range(80):
        tags = tuple(f"t{k}" for k in range(i % 4))
        upper = i % 2 == 1
        job = default.enqueue(rq_jobs.describe, f"job{i}", *tags, sep="/", upper=upper)
        text = "/".join((f"job{i}",) + tags)
        expected[job.id] = ("finished", text.upper() if upper else text)
    # 3. fails once, then succeeds on its retry
    flaky = []
    for i in range(30):
        job = default.enqueue(rq_jobs.flaky, f"f{i}", retry=Retry(max=2))
        flaky.append(job)
        expected[job.id] = ("finished", f"f{i} ok after 2 attempts")
    # 4. always fails: ends in the failed registry with its traceback
    for i in range(20):
        job = default.enqueue(rq_jobs.boom, i)
        expected[job.id] = ("failed", f"ValueError: boom {i}")
    # 5. depends on one of the plain jobs (still queued now, so deferred)
    for k in range(50):
        parent, value = adds[k * 2]
        job = default.enqueue(rq_jobs.double_parent, depends_on=parent)
        expected[job.id] = ("finished", 2 * value)
    assert len(expected) == 300

    deferred = DeferredJobRegistry(queue=default).get_job_count(cleanup=False)
    if deferred != 50:
        fail(f"{deferred} jobs in the deferred registry before the workers ran, expected 50")
    if default.count + high.count != 250:
        fail(f"{default.count}+{high.count} jobs queued, expected 250")

    # Round 1: two burst workers at once, the default forking Worker and a
    # SimpleWorker. rq 3 moves a dependent job through a "ready" registry under
    # WATCH and, when another worker touches that registry at the same moment,
    # leaves it there for the next maintenance pass (with real redis too). A
    # new burst worker runs that pass at start-up, so up to two more rounds of
    # one worker pick up such jobs.
    started = time.monotonic()
    logs = []
    rounds = [["rq.worker.Worker", "rq.worker.SimpleWorker"], ["rq.worker.SimpleWorker"],
              ["rq.worker.SimpleWorker"]]
    ready = ReadyJobRegistry(queue=default)
    rounds_run = 0
    for r, classes in enumerate(rounds):
        if r > 0:
            left = high.count + default.count + ready.get_job_count(cleanup=False)
            if left == 0:
                break
            print(f"round {r + 1}: {left} jobs left ready or queued after round {r}")
        run_workers(r, classes, url, port, started, logs)
        rounds_run += 1
    elapsed = time.monotonic() - started

    # Every job: status and result (results are read back from the server).
    jobs = Job.fetch_many(list(expected), connection=conn)
    problems = []
    for job_id, job in zip(expected, jobs):
        want_status, want = expected[job_id]
        if job is None:
            problems.append(f"{job_id}: job hash missing")
            continue
        status = job.get_status()
        if status != want_status:
            problems.append(f"{job_id} {job.func_name}: status {status}, expected {want_status}"
                            f" (exc_info: {job.latest_result() and job.latest_result().exc_string})")
        elif want_status == JobStatus.FINISHED and job.return_value() != want:
            problems.append(f"{job_id} {job.func_name}: result {job.return_value()!r}, expected {want!r}")
        elif want_status == JobStatus.FAILED:
            exc = job.latest_result().exc_string or ""
            if want not in exc:
                problems.append(f"{job_id} {job.func_name}: exc_info {exc!r} lacks {want!r}")
        if job.func_name == "rq_jobs.describe" and job.get_meta().get("length") != len(want):
            problems.append(f"{job_id}: meta {job.get_meta()!r}, expected length {len(want)}")
    for job in flaky:
        job.refresh()
        if job.retries_left != 1:
            problems.append(f"{job.id} flaky: retries_left {job.retries_left}, expected 1")
        if int(conn.get(f"e2e:attempts:{job.args[0]}")) != 2:
            problems.append(f"{job.id} flaky: ran {conn.get(f'e2e:attempts:{job.args[0]}')} times")

    # Registries, queues and worker registrations once the burst is over.
    counts = {
        "default finished": (FinishedJobRegistry(queue=default).get_job_count(cleanup=False), 270),
        "high finished": (FinishedJobRegistry(queue=high).get_job_count(cleanup=False), 10),
        "default failed": (FailedJobRegistry(queue=default).get_job_count(cleanup=False), 20),
        "default deferred": (DeferredJobRegistry(queue=default).get_job_count(cleanup=False), 0),
        "default ready": (ready.get_job_count(cleanup=False), 0),
        "default queued": (default.count, 0),
        "high queued": (high.count, 0),
        "workers registered": (len(Worker.all(connection=conn)), 0),
    }
    for name, (got, want) in counts.items():
        if got != want:
            problems.append(f"{name}: {got}, expected {want}")

    if problems:
        fail(f"{len(problems)} problems:\n  " + "\n  ".join(problems[:40]), worker_logs(logs))
    print(f"rq_e2e: OK: 300 jobs (280 finished incl. 30 retried and 50 dependent, "
          f"20 failed) by burst workers in {rounds_run} round(s), {elapsed:.1f}s")


if __name__ == "__main__":
    main()
