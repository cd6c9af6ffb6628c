"""RQ and Celery throughput for benches/jobs-vs-redis.sh.

    python benches/jobs_load.py rq     PORT JOBS SERVER_PID
    python benches/jobs_load.py celery PORT JOBS SERVER_PID [CONCURRENCY]

Both empty the server (FLUSHALL) first, then time two phases apart:

- rq: adding, JOBS no-op jobs with one `Queue.enqueue_many` (one pipeline);
  processing, one in-process `SimpleWorker` in burst mode (no fork per job)
  until the queue is empty. Checks that all JOBS jobs finished.
- celery: a Celery worker (threads pool, CONCURRENCY threads, default 4;
  without mingle, gossip and heartbeat) is started listening to an idle queue
  and answers a control ping; adding, JOBS `noop.apply_async()` to the queue
  `bench` (no result backend: results ignored); processing, from the
  `add_consumer('bench')` broadcast until the worker has run all JOBS tasks
  (it counts them itself and writes a marker file, so that no command is added
  to the server's work). The worker is then shut down.

Prints one line: `JOBS ADD_SECONDS PROCESS_SECONDS SERVER_TICKS`, where
SERVER_TICKS is SERVER_PID's utime + stime (/proc/PID/stat, clock ticks) over
the processing phase. This file is also the Celery app (`celery -A
jobs_load`), configured from JOBS_LOAD_PORT, JOBS_LOAD_JOBS and
JOBS_LOAD_MARKER. Exits 1 with a message when a check fails or a phase takes
longer than 300 s.
"""

import os
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = 300  # seconds per phase


def fail(msg):
    print(f"jobs_load: {msg}", file=sys.stderr)
    sys.exit(1)


def server_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)


# ---------------------------------------------------------------------- rq

def noop(i):
    return None


def run_rq(port, jobs, pid):
    from redis import Redis
    from rq import Queue, SimpleWorker
    from rq.registry import FailedJobRegistry, FinishedJobRegistry

    conn = Redis(host="127.0.0.1", port=port)
    conn.flushall()
    q = Queue("bench", connection=conn)
    import jobs_load  # the worker finds the job as jobs_load.noop, not __main__.noop

    datas = [Queue.prepare_data(jobs_load.noop, args=(i,)) for i in range(jobs)]
    t0 = time.monotonic()
    q.enqueue_many(datas)
    t1 = time.monotonic()
    if q.count != jobs:
        fail(f"rq: {q.count} jobs queued, expected {jobs}")
    ticks0 = server_ticks(pid)
    t2 = time.monotonic()
    SimpleWorker([q], connection=conn).work(burst=True, logging_level="WARNING")
    t3 = time.monotonic()
    ticks1 = server_ticks(pid)
    finished = FinishedJobRegistry(queue=q).get_job_count(cleanup=False)
    failed = FailedJobRegistry(queue=q).get_job_count(cleanup=False)
    if q.count or finished != jobs or failed:
        fail(f"rq: {q.count} left queued, {finished} finished, {failed} failed; expected "
             f"0, {jobs}, 0")
    return t1 - t0, t3 - t2, ticks1 - ticks0


# ------------------------------------------------------------------ celery

celery_app = None
if os.environ.get("JOBS_LOAD_PORT"):
    from celery import Celery

    celery_app = Celery("jobs_load", broker=f"redis://127.0.0.1:{os.environ['JOBS_LOAD_PORT']}/0")
    celery_app.conf.update(
        broker_connection_retry_on_startup=True,
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        worker_hijack_root_logger=False,
    )
    _count = 0
    _lock = threading.Lock()

    @celery_app.task(name="jobs_load.bench_noop")
    def bench_noop(i):
        """Counts itself; the last of JOBS_LOAD_JOBS writes the marker file."""
        global _count
        with _lock:
            _count += 1
            last = _count == int(os.environ["JOBS_LOAD_JOBS"])
        if last:
            with open(os.environ["JOBS_LOAD_MARKER"], "w") as f:
                f.write("done")


def run_celery(port, jobs, pid, concurrency):
    import redis

    redis.Redis(host="127.0.0.1", port=port).flushall()
    marker = os.path.join(tempfile.mkdtemp(prefix="jobs-load-"), "done")
    hostname = f"bench@jobs-load-{port}"
    env = dict(os.environ, JOBS_LOAD_PORT=str(port), JOBS_LOAD_JOBS=str(jobs),
               JOBS_LOAD_MARKER=marker, PYTHONDONTWRITEBYTECODE="1")
    log = tempfile.TemporaryFile("w+")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "jobs_load", "worker", "--pool=threads",
         f"--concurrency={concurrency}", "--loglevel=WARNING", "--hostname", hostname,
         "-Q", "bench-idle", "--without-mingle", "--without-gossip", "--without-heartbeat"],
        cwd=HERE, env=env, stdout=log, stderr=subprocess.STDOUT)

    def worker_fail(msg):
        log.seek(0)
        print(log.read()[-5000:], file=sys.stderr)
        fail(f"celery: {msg}")

    try:
        deadline = time.monotonic() + 60
        while not celery_app.control.ping(destination=[hostname], timeout=1):
            if worker.poll() is not None or time.monotonic() > deadline:
                worker_fail("the worker did not answer a ping")
        t0 = time.monotonic()
        with celery_app.producer_or_acquire() as producer:
            for i in range(jobs):
                bench_noop.apply_async((i,), queue="bench", producer=producer)
        t1 = time.monotonic()
        ticks0 = server_ticks(pid)
        t2 = time.monotonic()
        celery_app.control.add_consumer("bench", destination=[hostname])
        deadline = t2 + TIMEOUT
        while not os.path.exists(marker):
            if worker.poll() is not None or time.monotonic() > deadline:
                worker_fail(f"the worker did not run all {jobs} tasks")
            time.sleep(0.002)
        t3 = time.monotonic()
        ticks1 = server_ticks(pid)
        celery_app.control.shutdown(destination=[hostname])
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker_fail("the worker did not stop after the shutdown broadcast")
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    os.remove(marker)
    os.rmdir(os.path.dirname(marker))
    return t1 - t0, t3 - t2, ticks1 - ticks0


def main():
    global celery_app, bench_noop
    usage = "usage: jobs_load.py rq|celery PORT JOBS SERVER_PID [CONCURRENCY]"
    if len(sys.argv) < 5 or sys.argv[1] not in ("rq", "celery"):
        sys.exit(usage)
    kind, port, jobs, pid = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    if kind == "rq":
        add, proc, ticks = run_rq(port, jobs, pid)
    else:
        # The Celery app of this module, as the worker imports it.
        os.environ["JOBS_LOAD_PORT"] = str(port)
        import jobs_load
        celery_app, bench_noop = jobs_load.celery_app, jobs_load.bench_noop
        concurrency = int(sys.argv[5]) if len(sys.argv) > 5 else 4
        add, proc, ticks = run_celery(port, jobs, pid, concurrency)
    print(f"{jobs} {add:.6f} {proc:.6f} {ticks}")


if __name__ == "__main__":
    main()
