"""Job functions for rq_e2e.py. The workers import them by name (rq_jobs.add ...)."""

from rq import get_current_job


def add(x, y):
    return x + y


def describe(name, *tags, sep="-", upper=False):
    """Uses args and kwargs; also saves something in the job's meta."""
    text = sep.join((name,) + tags)
    job = get_current_job()
    job.meta["length"] = len(text)
    job.save_meta()
    return text.upper() if upper else text


def flaky(tag):
    """Fails on its first attempt, succeeds on the retry.

    The attempt counter lives on the server itself (INCR through the job's own
    connection), so it works whichever worker runs which attempt."""
    job = get_current_job()
    attempt = job.connection.incr(f"e2e:attempts:{tag}")
    if attempt == 1:
        raise RuntimeError(f"flaky {tag}: first attempt fails")
    return f"{tag} ok after {attempt} attempts"


def boom(i):
    raise ValueError(f"boom {i}")


def double_parent():
    """Runs after the job it depends on; returns twice its result."""
    job = get_current_job()
    (parent_id,) = job.dependency_ids
    parent = job.fetch(parent_id, connection=job.connection)
    return 2 * parent.return_value()
