"""ARNs as DMS spells them, ``arn:aws:dms:<region>:<account>:task:<id>``, mapped to binlake identifiers.

binlake's identifiers are the ARN's last part (DMS uses a generated resource id there; binlake has one name per
task and endpoint). Wherever AWS accepts an ARN, a plain identifier is accepted too.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_ACCOUNT = "000000000000"
TASK = "task"
ENDPOINT = "endpoint"
INSTANCE = "rep"
INSTANCE_ID = "local"  # binlake has no replication instance; every task runs on this machine


@dataclass(frozen=True)
class Arns:
    """Builds and reads ARNs for one request's region and the server's account."""

    region: str
    account: str = DEFAULT_ACCOUNT

    def arn(self, kind: str, identifier: str) -> str:
        return f"arn:aws:dms:{self.region}:{self.account}:{kind}:{identifier}"

    def task(self, identifier: str) -> str:
        return self.arn(TASK, identifier)

    def endpoint(self, identifier: str) -> str:
        return self.arn(ENDPOINT, identifier)

    @property
    def instance(self) -> str:
        return self.arn(INSTANCE, INSTANCE_ID)


def identifier(text: str, kind: str) -> str:
    """The binlake identifier in ``text``: an ARN of ``kind`` (any region or account), or the identifier itself.
    An ARN of another kind is returned whole, so the lookup fails with 'not found' rather than finding a namesake."""
    if not text.startswith("arn:"):
        return text
    parts = text.split(":", 6)
    if len(parts) == 7 and parts[2] == "dms" and parts[5] == kind:
        return parts[6]
    return text
