"""The states of a payer's payment and the one table of moves between them. Pure.

    created -> awaiting_sca -> pending -> authorised -> settled      (bank, PSD2)
    created -> awaiting_sca -> authorised -> captured -> settled     (card, to come)
    any unfinished state -> failed | cancelled
    captured | settled -> refunded | partially_refunded (-> refunded)
    settled -> failed (the bank reversed the credit) | authorised (a person undid its match)

`authorised` for a bank payment means the payer's bank accepted it (ACSP/ACSC): the
money is on its way and the invoice shows *payment pending*; `settled` means the
merchant's statement shows the money. Moving to the state a payment is in already is no
move at all (a repeated callback, a second poll): `advance` returns False and the caller
does nothing more.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    CREATED = "created"
    AWAITING_SCA = "awaiting_sca"
    PENDING = "pending"
    AUTHORISED = "authorised"
    CAPTURED = "captured"
    SETTLED = "settled"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


MOVES: dict[State, frozenset[State]] = {
    # (settled straight away: the statement showed the money before kvits learned the bank's answer)
    State.CREATED: frozenset({State.AWAITING_SCA, State.PENDING, State.AUTHORISED, State.SETTLED, State.FAILED,
                              State.CANCELLED}),
    State.AWAITING_SCA: frozenset({State.PENDING, State.AUTHORISED, State.SETTLED, State.FAILED, State.CANCELLED}),
    State.PENDING: frozenset({State.AUTHORISED, State.SETTLED, State.FAILED, State.CANCELLED}),
    State.AUTHORISED: frozenset({State.CAPTURED, State.SETTLED, State.FAILED, State.CANCELLED}),
    State.CAPTURED: frozenset({State.SETTLED, State.REFUNDED, State.PARTIALLY_REFUNDED}),
    # (failed: the bank reversed the credit; authorised: a person undid the statement's match)
    State.SETTLED: frozenset({State.REFUNDED, State.PARTIALLY_REFUNDED, State.FAILED, State.AUTHORISED}),
    State.PARTIALLY_REFUNDED: frozenset({State.PARTIALLY_REFUNDED, State.REFUNDED}),
    State.FAILED: frozenset(),
    State.CANCELLED: frozenset(),
    State.REFUNDED: frozenset(),
}
# still in the payer's hands or the bank's: at most one such payment per invoice
ACTIVE = frozenset({State.CREATED, State.AWAITING_SCA, State.PENDING})
# the payment succeeded: the merchant owes the fee
SUCCEEDED = frozenset({State.AUTHORISED, State.CAPTURED, State.SETTLED, State.PARTIALLY_REFUNDED, State.REFUNDED})
FINAL = frozenset({State.FAILED, State.CANCELLED, State.REFUNDED})


class TransitionError(ValueError):
    pass


def advance(current: State, target: State) -> bool:
    """Whether moving from `current` to `target` changes anything; raises for a move the
    table does not allow (a settled payment cannot fail, a failed one cannot succeed)."""
    if current == target and current is not State.PARTIALLY_REFUNDED:
        return False
    if target not in MOVES[current]:
        raise TransitionError(f"a {current} payment cannot become {target}")
    return True


# where a PSD2 payment attempt's state (psd2.attempts) puts the payment
FROM_ATTEMPT: dict[str, State] = {
    "new": State.CREATED, "initiating": State.CREATED, "uncertain": State.CREATED,
    "awaiting_sca": State.AWAITING_SCA, "pending": State.PENDING,
    "accepted": State.AUTHORISED, "completed": State.AUTHORISED,
    "rejected": State.FAILED, "failed": State.FAILED, "timed_out": State.FAILED, "cancelled": State.CANCELLED,
}
