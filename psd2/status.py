"""One table from the bank's transactionStatus to what it means for kvits.

`pending`: the bank has it, nothing decided (includes codes we do not know: the standard
tells clients to treat unknown codes as pending). `accepted`: the bank will execute it
(ACSP and the like) - money is not at the merchant yet, the statement confirms it.
`completed`: settled on the debtor's (or creditor's) account. `rejected`,
`cancelled`: final failures.
"""

from __future__ import annotations

from typing import Literal

Outcome = Literal["pending", "accepted", "completed", "rejected", "cancelled"]

TRANSACTION_STATUS: dict[str, Outcome] = {
    "RCVD": "pending",  # received
    "PDNG": "pending",  # further checks follow
    "PATC": "pending",  # some of several SCAs done
    "ACTC": "pending",  # technical validation passed (often right after SCA)
    "ACCP": "pending",  # customer profile accepted
    "ACFC": "pending",  # funds checked
    "ACWC": "accepted",  # accepted with change (e.g. the date)
    "RCVC": "pending",  # 1.3.16: received, payee verified
    "RVCM": "pending",  # 1.3.16: payee name mismatch, payer must confirm
    "RVNC": "pending",  # 1.3.16: payee verification not completed
    "ACSP": "accepted",  # settlement in process: the last status many banks report
    "ACSC": "completed",  # settled on the debtor's account
    "ACCC": "completed",  # settled on the creditor's account
    "ACWP": "completed",  # accepted without posting to the creditor account
    "PART": "accepted",  # bulk only: some accepted
    "RJCT": "rejected",  # includes SCA failure and SCA timeout
    "CANC": "cancelled",
}

FINAL: frozenset[Outcome] = frozenset({"completed", "rejected", "cancelled"})

SCA_FINAL = frozenset({"finalised", "failed", "exempted"})


def outcome(transaction_status: str) -> Outcome:
    return TRANSACTION_STATUS.get(transaction_status, "pending")


def is_final(transaction_status: str) -> bool:
    return outcome(transaction_status) in FINAL
