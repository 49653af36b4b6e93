"""The durable job queue: what a publisher's ``[retried]`` subscribers do, recorded as rows
in the publisher's own transaction (``queue.enqueue``) and run seconds later by a worker
(``worker.work``: each server process's background loop, and ``aefi worker``).

Nothing is lost when a process dies: a job is a row committed with the change it follows;
a worker claims it with a lease (PostgreSQL: ``FOR UPDATE SKIP LOCKED``; SQLite: a
conditional ``UPDATE``), does the work and marks it done in one transaction; a worker
killed mid-run leaves a lease that expires and the job is claimed again. A failed run is
retried with back-off and abandoned, audited, after ``jobs_max_attempts``. Jobs of one
kind with the same key merge when one of them is claimed (ten reports on one lot: one
scan of that lot)."""
