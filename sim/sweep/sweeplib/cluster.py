"""Where the tasks run: a Dask LocalCluster of one single-threaded worker process per core, or
an existing cluster (a scheduler address or a scheduler file, as dask-scheduler, Slurm jobs,
dask-jobqueue or dask-kubernetes make them). Before anything runs, every worker must run the
same fvdsim build as the driver (`fvdsim --version`: version, commit, build type, compiler)."""
import logging
import os

import cloudpickle
from distributed import Client, LocalCluster

from . import task

# Workers need not have this package: its task functions travel by value.
cloudpickle.register_pickle_by_value(task)


class ClusterError(Exception):
    """The cluster cannot run the sweep (the message names the scheduler or worker)."""


def connect(scheduler=None, scheduler_file=None, workers=None, connect_timeout_s=10):
    """(client, cluster): a client of the given cluster (cluster None), or of a new local one."""
    if scheduler or scheduler_file:
        where = scheduler or f"the scheduler in {scheduler_file}"
        try:
            if scheduler:
                client = Client(scheduler, timeout=connect_timeout_s)
            else:
                client = Client(scheduler_file=scheduler_file, timeout=connect_timeout_s)
        except (OSError, TimeoutError, ValueError) as e:
            raise ClusterError(f"cannot reach {where}: {e}") from None
        return client, None
    n = workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    return Client(cluster), cluster


def check_builds(client, fvdsim, expected, wait_s=30):
    """Every worker's `fvdsim --version` equals `expected`, or ClusterError names the ones that
    differ (or have no fvdsim). Returns {worker address: identity}."""
    try:
        client.wait_for_workers(1, timeout=wait_s)
    except TimeoutError:
        raise ClusterError(f"no worker joined the scheduler within {wait_s} s") from None
    found = client.run(task.identity, fvdsim)
    bad = {w: i for w, i in found.items() if i != expected}
    if bad:
        lines = [f"worker {w}: {i}" for w, i in sorted(bad.items())]
        raise ClusterError("workers must run the same fvdsim build as this driver "
                           f"({expected}):\n  " + "\n  ".join(lines))
    return found
