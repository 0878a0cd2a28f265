"""Keep job arguments and ids out of arq's log lines.

arq logs every job as ``job_id:function(args)`` and its result. Our job ids and
arguments can carry voucher codes and hotspot user names (a voucher's user name
is its code), which must never reach a log. The function name stays, and a short
digest of the job id lets lines of the same job be matched up.
"""

from __future__ import annotations

import hashlib
import logging

ARQ_WORKER_LOGGER = "arq.worker"


def job_digest(job_id: str) -> str:
    """Return a short, stable stand-in for a job id."""
    return hashlib.sha256(job_id.encode()).hexdigest()[:10]


def _safe_ref(ref: str) -> str:
    job_id, sep, function = ref.rpartition(":")
    return f"{function}[{job_digest(job_id)}]" if sep else ref


class RedactJobArguments(logging.Filter):
    """Rewrite arq.worker records: job ids digested, arguments dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if not isinstance(args, tuple) or not isinstance(record.msg, str):
            return True
        new = list(args)
        if record.msg.startswith("%6.2fs") and len(new) >= 2 and isinstance(new[1], str):
            new[1] = _safe_ref(new[1])  # "0.01s → job_id:function(args)"
            if "→" in record.msg and len(new) >= 3:
                new[2] = "…"
        elif record.msg.startswith("job %s") and new and isinstance(new[0], str):
            new[0] = job_digest(new[0])
        record.args = tuple(new)
        return True


def install_log_redaction() -> None:
    """Attach the filter to arq's worker logger once per process."""
    logger = logging.getLogger(ARQ_WORKER_LOGGER)
    if not any(isinstance(f, RedactJobArguments) for f in logger.filters):
        logger.addFilter(RedactJobArguments())
