"""The daily overdue job: every open invoice past its due date is reported once, as an
`invoice.overdue` webhook and an event on its timeline.

"Overdue" itself is never stored (it follows from the due date and today); what is
stored is the day the job reported it (`overdue_notified_on`), set by a conditional
update, so a rerun, a second beat or two workers at once report each invoice once."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core.clock import today_in
from core.db import changed, transaction
from core.events import emit
from core.money import from_minor
from invoices import status as st
from invoices.models import Invoice, InvoiceEvent

BATCH = 500


def mark_overdue(factory: sessionmaker[Session], today: date) -> int:
    """Report every open invoice due before `today` that was not reported yet; returns how
    many this run reported. Works in batches (one transaction each)."""
    reported = 0
    last_id = 0
    while True:
        with transaction(factory) as session:
            ids = list(session.scalars(
                select(Invoice.id).where(Invoice.status.in_([s.value for s in st.OPEN]), Invoice.due_date < today,
                                         Invoice.overdue_notified_on.is_(None), Invoice.id > last_id)
                .order_by(Invoice.id).limit(BATCH)))
            if not ids:
                return reported
            last_id = ids[-1]
            for invoice_id in ids:
                reported += _report(session, invoice_id, today)


def _report(session: Session, invoice_id: int, today: date) -> int:
    claimed = changed(session, 
        update(Invoice).where(Invoice.id == invoice_id, Invoice.overdue_notified_on.is_(None),
                              Invoice.status.in_([s.value for s in st.OPEN]), Invoice.due_date < today)
        .values(overdue_notified_on=today))
    if not claimed:  # paid, cancelled or reported meanwhile
        return 0
    invoice = session.get(Invoice, invoice_id)
    assert invoice is not None
    session.refresh(invoice)
    days = (today - invoice.due_date).days
    due = from_minor(invoice.open_minor, invoice.currency)
    session.add(InvoiceEvent(merchant_id=invoice.merchant_id, invoice_id=invoice.id, kind="overdue",
                             detail=f"{days} day{'s' if days != 1 else ''} past due ({invoice.due_date:%Y-%m-%d}); "
                                    f"{due} {invoice.currency} open", amount_minor=invoice.open_minor))
    emit(session, invoice.merchant_id, "invoice.overdue", invoice=f"inv_{invoice.id}", number=invoice.number,
         due_date=invoice.due_date.isoformat(), days_overdue=days, due=str(due),
         total=str(from_minor(invoice.total_minor, invoice.currency)), currency=invoice.currency)
    return 1


def run_overdue_job(factory: sessionmaker[Session], timezone: str, today: date | None = None) -> int | None:
    """The scheduled job: under its lease (one run at a time across beats and workers),
    for the merchants' today. None when another run holds the lease."""
    from core.leases import lease

    with lease(factory, "invoices.mark_overdue", 3600) as mine:
        if not mine:
            return None
        return mark_overdue(factory, today or today_in(timezone))
