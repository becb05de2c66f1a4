"""Jobs: solving one problem (`solve`), the one runner for many (`runner`), and where problems are solved (`pool`).

`from reasoner.jobs import run_job, JobConfig, ...` reaches the runner; `solve` and
`pool` are imported by path, so that importing the runner starts nothing heavy.
"""

from reasoner.jobs.runner import (JobConfig, JobRecord, JsonlStore, MemoryStore, Record, RecordStore, SolveSpec,
                                  config_digest, iter_records, read_records, record_of, run_job, run_many)

__all__ = ["JobConfig", "JobRecord", "JsonlStore", "MemoryStore", "Record", "RecordStore", "SolveSpec",
           "config_digest", "iter_records", "read_records", "record_of", "run_job", "run_many"]
