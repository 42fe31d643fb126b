"""Job: read-only progress records; queued ones can be stopped (cimi/ops/job_control.py), finished ones deleted."""
from cimi.jobs import FINAL
from cimi.ops import job_control
from cimi.registry import Action, Kind, register
from cimi.store.links import KEEP, Link

register(Kind("Job", "jobs", editable=False, deletable_states=frozenset(FINAL), links=(Link("_target", None, KEEP),),
              actions={"stop": Action("stop", frozenset({"QUEUED"}), immediate=job_control.stop)},
              capabilities=(("JobRetention", "10080", "minutes a finished Job is kept at least"),)))
