"""fvdsweep's parts: the study's tasks (plan), one task run on a worker (task), the Dask cluster
and the build check (cluster), the results file (results), and the report (report)."""
