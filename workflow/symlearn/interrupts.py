"""Passing an interruption of Snakemake on to its running jobs.

Interrupted by Ctrl-C or SIGTERM sent to its own process, a local Snakemake stops
starting jobs but waits for the running ones to finish: at paper scale, hours of an
analysis nobody asked for. Ctrl-C in a terminal reaches the jobs too (one process
group), a signal sent to Snakemake's process alone does not. :func:`pass_on_interrupts`
makes the main Snakemake send SIGTERM to every process it started before its own
handling goes on; each symlearn command turns SIGTERM into an exit that removes its
unfinished outputs (``symlearn.cli``), and Snakemake marks the job incomplete, so the
next run reruns it (a training resumes from its last checkpoint).
"""

from __future__ import annotations

import signal
from collections.abc import Callable


def stop_children(grace_s: float = 10.0) -> list[int]:
    """SIGTERM to every descendant of this process, SIGKILL to those still alive after
    ``grace_s`` seconds; the PIDs signalled."""
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        try:
            child.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(children, timeout=grace_s)
    for child in alive:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    return [child.pid for child in children]


def pass_on_interrupts(log: Callable[[str], None] = print) -> None:
    """Chain a handler to SIGINT and SIGTERM that stops every running job
    (:func:`stop_children`), then runs the handler it replaced (Snakemake's: stop
    scheduling, record the jobs as incomplete, exit). Call it in the main Snakemake
    process once its scheduler has set its own handlers (the workflow's ``onstart``)."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(signum)

        def handler(number, frame, previous=previous):
            stopped = stop_children()
            if stopped:
                log(f"{signal.Signals(number).name}: stopped {len(stopped)} running job "
                    "process(es); their unfinished outputs are removed, and the next run "
                    "reruns them")
            if callable(previous):
                previous(number, frame)
            elif number == signal.SIGINT:
                raise KeyboardInterrupt
            else:
                raise SystemExit(128 + number)

        signal.signal(signum, handler)
