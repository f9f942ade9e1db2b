# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Compiled twin of `Decoder.entry` (camt/versions/base.py) for the common entry shapes.

It reads an already-parsed <Ntry> straight from libxml2's nodes, so no lxml proxy,
tag string or text string is made for an element it does not keep. It is exact or
silent: whatever it is not sure to read exactly as the Python decoder does - an
unusual form, a value the Python decoder would refuse, a foreign namespace - makes it
return None, and the caller reads that entry with the Python decoder, which stays the
one definition of what an entry is (and the one that words the errors).
tests/camt/test_camt_accel.py checks that both give equal entries on every sample,
fixture and generated statement.
"""

from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.string cimport strcmp, strlen
from lxml.includes cimport etreepublic as cetree
from lxml.includes cimport tree
from lxml.includes.tree cimport xmlAttr, xmlNode

from datetime import date as _date, datetime as _datetime
from decimal import Decimal

from camt.model import (
    AmountDetails,
    BankTransactionCode,
    Charge,
    CreditorReference,
    Entry,
    Money,
    Party,
    References,
    ReferredDocument,
    StructuredRemittance,
    Transaction,
)
from camt.versions.base import XS_DATETIME, _NO_AMOUNT_DETAILS, _NO_REFERENCES
from core.money import MAX_DIGITS, minor_unit

cetree.import_lxml__etree()

BUILT_AGAINST = cetree.LXML_VERSION_STRING.decode("ascii")

class _Fallback(Exception):
    """This entry is the Python decoder's to read."""

cdef dict _MINOR = {}
cdef dict _DATES = {}
cdef object _ZERO = Decimal(0)

# Field order of References, for the slots list below.
cdef tuple _REF_NAMES = (
    b"MsgId", b"AcctSvcrRef", b"PmtInfId", b"InstrId", b"EndToEndId", b"TxId", b"UETR",
    b"MndtId", b"ChqNb", b"ClrSysRef",
)


# ------------------------------------------------------------------ node helpers

cdef inline bint _eq(const char* a, const char* b) noexcept:
    return strcmp(a, b) == 0


cdef class EntryDecoder:
    """Decodes Ntry elements of one namespace; `entry` returns None to fall back."""

    cdef bytes _ns
    cdef const char* _c_ns
    cdef bint _status_code_first  # v08: Sts/Cd before plain text

    def __init__(self, str namespace, bint status_code_first):
        self._ns = namespace.encode("utf-8")
        self._c_ns = self._ns
        self._status_code_first = status_code_first

    # An element child of ours: its local name, or NULL to skip (text). Anything the
    # Python decoder might see differently (comment, entity, other namespace) falls back.
    cdef const char* _name(self, xmlNode* n) except? NULL:
        if n.type == tree.XML_ELEMENT_NODE:
            if self._c_ns[0] == 0:
                if n.ns is not NULL:
                    raise _Fallback
            elif n.ns is NULL or not _eq(<const char*>n.ns.href, self._c_ns):
                raise _Fallback
            return <const char*>n.name
        if n.type == tree.XML_TEXT_NODE or n.type == tree.XML_CDATA_SECTION_NODE:
            return NULL
        raise _Fallback

    # ------------------------------------------------------------ text, as lxml has it

    cdef object _raw_text(self, xmlNode* n):
        """el.text: the text and CDATA nodes before the first other child, or None."""
        cdef xmlNode* c = n.children
        cdef xmlNode* first = c
        cdef int count = 0
        cdef const char* only = NULL
        while c is not NULL and (c.type == tree.XML_TEXT_NODE or c.type == tree.XML_CDATA_SECTION_NODE):
            if c.content[0] != 0:
                only = <const char*>c.content
            count += 1
            c = c.next
        if count == 0:
            return None
        if only is NULL:
            return ""
        if count == 1:
            return PyUnicode_DecodeUTF8(only, strlen(only), NULL)
        parts = bytearray()
        c = first
        while c is not NULL and (c.type == tree.XML_TEXT_NODE or c.type == tree.XML_CDATA_SECTION_NODE):
            parts += <bytes>(<const char*>c.content)
            c = c.next
        return parts.decode("utf-8")

    cdef object _opt(self, xmlNode* n):
        """_opt_text: stripped text, None when absent or blank."""
        t = self._raw_text(n)
        if t is None:
            return None
        return t.strip() or None

    cdef str _stripped(self, xmlNode* n):
        """_text: stripped text, "" when absent."""
        t = self._raw_text(n)
        return t.strip() if t else ""

    cdef object _attribute(self, xmlNode* n, const char* name):
        """el.get(name) for an attribute without namespace."""
        cdef xmlAttr* a = n.properties
        cdef xmlNode* c
        while a is not NULL:
            if a.ns is NULL and _eq(<const char*>a.name, name):
                c = a.children
                if c is NULL:
                    return ""
                if c.next is NULL and c.type == tree.XML_TEXT_NODE:
                    return PyUnicode_DecodeUTF8(<const char*>c.content, strlen(<const char*>c.content), NULL)
                raise _Fallback
            a = a.next
        return None

    # ------------------------------------------------------------ scalar values

    cdef object _amount(self, xmlNode* n):
        """Money of <Amt Ccy=..>: only the plain form "123.45" within the currency's
        minor unit (what base._plain_amount accepts); anything else falls back."""
        cdef Py_ssize_t i, dot, length
        cdef Py_UCS4 ch
        ccy = self._attribute(n, b"Ccy")
        if ccy is None or len(<str>ccy) != 3:
            raise _Fallback
        for ch in <str>ccy:
            if ch < u'A' or ch > u'Z':
                raise _Fallback
        raw = self._raw_text(n)
        if raw is None:
            raise _Fallback
        cdef str text = (<str>raw).strip()
        length = len(text)
        dot = -1
        for i in range(length):
            ch = text[i]
            if ch == u'.':
                if dot >= 0:
                    raise _Fallback
                dot = i
            elif ch < u'0' or ch > u'9':
                raise _Fallback
        places = _MINOR.get(ccy)
        if places is None:
            places = _MINOR[ccy] = minor_unit(ccy)
        cdef Py_ssize_t p = places
        if length - (dot >= 0) > MAX_DIGITS:
            raise _Fallback
        if dot < 0:
            if length == 0:
                raise _Fallback
            value = Decimal(text + "." + "0" * p) if p else Decimal(text)
        else:
            if dot == 0 or dot == length - 1 or length - dot - 1 > p:
                raise _Fallback
            value = Decimal(text[:dot] + "." + text[dot + 1:].ljust(p, "0"))
        return Money(value, ccy)

    cdef object _side(self, xmlNode* n):
        t = self._stripped(n)
        if t == "CRDT":
            return "CRDT"
        if t == "DBIT":
            return "DBIT"
        raise _Fallback

    cdef object _boolean(self, xmlNode* n):
        t = self._stripped(n)
        if t == "true" or t == "1":
            return True
        if t == "false" or t == "0":
            return False
        raise _Fallback

    cdef object _integer(self, xmlNode* n):
        t = self._stripped(n)
        if not t or not t.isdigit() or not t.isascii() or len(t) > MAX_DIGITS:
            raise _Fallback
        return int(t)

    cdef object _day(self, xmlNode* n):
        raw = self._raw_text(n)
        if raw is None:
            raise _Fallback
        found = _DATES.get(raw)
        if found is not None:
            return found
        text = (<str>raw).strip()
        if len(text) != 10 or text[4] != u"-" or text[7] != u"-":  # time zones, odd forms: Python decides
            raise _Fallback
        try:
            found = _date.fromisoformat(text)
        except ValueError:
            raise _Fallback
        if len(_DATES) >= 4096:
            _DATES.clear()
        _DATES[raw] = found
        return found

    cdef object _moment(self, xmlNode* n):
        text = self._stripped(n)
        if u"." in text or not XS_DATETIME.fullmatch(text):  # fractions, odd forms: Python decides
            raise _Fallback
        try:
            return _datetime.fromisoformat(text)
        except ValueError:
            raise _Fallback

    cdef tuple _date_choice(self, xmlNode* n):
        cdef xmlNode* c = n.children
        cdef const char* name
        while c is not NULL:
            name = self._name(c)
            if name is not NULL:
                if _eq(name, b"Dt"):
                    return self._day(c), None
                if _eq(name, b"DtTm"):
                    moment = self._moment(c)
                    return moment.date(), moment
            c = c.next
        return None, None

    cdef object _code_or_proprietary(self, xmlNode* n):
        cdef xmlNode* c = n.children
        cdef xmlNode* d
        cdef const char* name
        while c is not NULL:
            name = self._name(c)
            if name is not NULL:
                if _eq(name, b"Cd"):
                    return self._opt(c)
                if _eq(name, b"Prtry"):
                    t = self._opt(c)
                    if t is not None:
                        return t
                    d = c.children
                    while d is not NULL:
                        name = self._name(d)
                        if name is not NULL and _eq(name, b"Id"):
                            return self._opt(d)
                        d = d.next
            c = c.next
        return None

    cdef object _status(self, xmlNode* n):
        if self._status_code_first:
            code = self._code_or_proprietary(n)
            if code:
                return code
            t = self._stripped(n)
            if not t:
                raise _Fallback
            return t
        t = self._opt(n)
        if t is None:
            t = self._code_or_proprietary(n)
        if not t:
            raise _Fallback
        return t

    cdef object _bic(self, xmlNode* n):
        cdef xmlNode* c = n.children
        cdef const char* name
        while c is not NULL:
            name = self._name(c)
            if name is not NULL and (_eq(name, b"BICFI") or _eq(name, b"BIC")):
                return self._opt(c)
            c = c.next
        return None

    cdef object _agent_bic(self, xmlNode* n):
        cdef xmlNode* c = n.children
        cdef const char* name
        while c is not NULL:
            name = self._name(c)
            if name is not NULL and _eq(name, b"FinInstnId"):
                return self._bic(c)
            c = c.next
        return None

    cdef tuple _account_id(self, xmlNode* n):
        cdef xmlNode* c = n.children
        cdef xmlNode* d
        cdef const char* name
        while c is not NULL:
            name = self._name(c)
            if name is not NULL:
                if _eq(name, b"IBAN"):
                    return self._opt(c), None
                if _eq(name, b"Othr"):
                    d = c.children
                    while d is not NULL:
                        name = self._name(d)
                        if name is not NULL and _eq(name, b"Id"):
                            return None, self._opt(d)
                        d = d.next
            c = c.next
        return None, None

    # ------------------------------------------------------------ entry level

    cdef object _bank_transaction_code(self, xmlNode* n):
        cdef xmlNode* c = n.children
        cdef xmlNode* d
        cdef xmlNode* e
        cdef const char* name
        domain = family = sub_family = prop = issuer = None
        while c is not NULL:
            name = self._name(c)
            if name is not NULL:
                if _eq(name, b"Domn"):
                    d = c.children
                    while d is not NULL:
                        name = self._name(d)
                        if name is not NULL:
                            if _eq(name, b"Cd"):
                                domain = self._opt(d)
                            elif _eq(name, b"Fmly"):
                                e = d.children
                                while e is not NULL:
                                    name = self._name(e)
                                    if name is not NULL:
                                        if _eq(name, b"Cd"):
                                            family = self._opt(e)
                                        elif _eq(name, b"SubFmlyCd"):
                                            sub_family = self._opt(e)
                                    e = e.next
                        d = d.next
                elif _eq(name, b"Prtry"):
                    d = c.children
                    while d is not NULL:
                        name = self._name(d)
                        if name is not NULL:
                            if _eq(name, b"Cd"):
                                prop = self._opt(d)
                            elif _eq(name, b"Issr"):
                                issuer = self._opt(d)
                        d = d.next
            c = c.next
        return BankTransactionCode(domain, family, sub_family, prop, issuer)

    cdef tuple _charges(self, xmlNode* n):
        cdef xmlNode* c = n.children
        cdef const char* name
        cdef list records = []
        while c is not NULL:
            name = self._name(c)
            if name is not NULL and _eq(name, b"Rcrd"):
                one = self._charge(c)
                records.append(one)
            c = c.next
        if records:
            return tuple([r for r in records if r is not None])
        one = self._charge(n)
        return (one,) if one is not None else ()

    cdef object _charge(self, xmlNode* n):
        cdef xmlNode* c = n.children
        cdef const char* name
        money = side = type_code = bearer = included = None
        while c is not NULL:
            name = self._name(c)
            if name is not NULL:
                if _eq(name, b"Amt"):
                    money = self._amount(c)
                elif _eq(name, b"CdtDbtInd"):
                    side = self._side(c)
                elif _eq(name, b"Tp"):
                    type_code = self._code_or_proprietary(c)
                elif _eq(name, b"ChrgInclInd"):
                    included = self._boolean(c)
                elif _eq(name, b"Br"):
                    bearer = self._opt(c)
            c = c.next
        if money is None:
            return None
        return Charge(money.amount, money.currency, side, type_code, included, bearer)

    cdef object _decimal(self, xmlNode* n):
        """XchgRate: a plain unsigned decimal in ASCII digits."""
        cdef Py_UCS4 ch
        cdef Py_ssize_t i, dot = -1
        cdef str t = self._stripped(n)
        cdef Py_ssize_t length = len(t)
        for i in range(length):
            ch = t[i]
            if ch == u'.':
                if dot >= 0:
                    raise _Fallback
                dot = i
            elif ch < u'0' or ch > u'9':
                raise _Fallback
        if length == 0 or dot == 0 or dot == length - 1:
            raise _Fallback
        return Decimal(t)

    cdef object _amount_details(self, xmlNode* n):
        cdef xmlNode* c = n.children
        cdef xmlNode* d
        cdef xmlNode* e
        cdef const char* name
        cdef const char* sub
        cdef int which
        instructed = transaction = counter = None
        source = target = rate = None
        while c is not NULL:
            name = self._name(c)
            if name is not NULL:
                if _eq(name, b"InstdAmt"):
                    which = 1
                elif _eq(name, b"TxAmt"):
                    which = 2
                elif _eq(name, b"CntrValAmt"):
                    which = 3
                else:
                    which = 0
                if which:
                    money = None
                    d = c.children
                    while d is not NULL:
                        sub = self._name(d)
                        if sub is not NULL:
                            if _eq(sub, b"Amt"):
                                money = self._amount(d)
                            elif _eq(sub, b"CcyXchg") and rate is None and source is None:
                                e = d.children
                                while e is not NULL:
                                    sub = self._name(e)
                                    if sub is not NULL:
                                        if _eq(sub, b"SrcCcy"):
                                            source = self._opt(e)
                                        elif _eq(sub, b"TrgtCcy"):
                                            target = self._opt(e)
                                        elif _eq(sub, b"XchgRate"):
                                            rate = self._decimal(e)
                                    e = e.next
                        d = d.next
                    if which == 1:
                        instructed = money
                    elif which == 2:
                        transaction = money
                    else:
                        counter = money
            c = c.next
        return AmountDetails(instructed, transaction, counter, source, target, rate)

    def entry(self, cetree._Element ntry, index):
        """The Entry the Python decoder reads from `ntry`, or None to let it read it."""
        try:
            return self._entry(ntry, index)
        except _Fallback:
            return None

    cdef object _entry(self, cetree._Element ntry, index):
        cdef xmlNode* c = ntry._c_node.children
        cdef xmlNode* d
        cdef const char* name
        cdef const char* sub
        money = side = status = None
        reversal = False
        booking_date = value_date = booking_dt = value_dt = None
        acct_ref = entry_ref = info = code = None
        charges = ()
        details = _NO_AMOUNT_DETAILS
        cdef list txs = []
        batch_count = None
        cdef list batch_sums = []
        while c is not NULL:
            name = self._name(c)
            if name is NULL:
                c = c.next
                continue
            if _eq(name, b"Amt"):
                money = self._amount(c)
            elif _eq(name, b"CdtDbtInd"):
                side = self._side(c)
            elif _eq(name, b"Sts"):
                status = self._status(c)
            elif _eq(name, b"BookgDt"):
                booking_date, booking_dt = self._date_choice(c)
            elif _eq(name, b"ValDt"):
                value_date, value_dt = self._date_choice(c)
            elif _eq(name, b"AcctSvcrRef"):
                acct_ref = self._opt(c)
            elif _eq(name, b"BkTxCd"):
                code = self._bank_transaction_code(c)
            elif _eq(name, b"RvslInd"):
                reversal = self._boolean(c)
            elif _eq(name, b"NtryRef"):
                entry_ref = self._opt(c)
            elif _eq(name, b"AddtlNtryInf"):
                info = self._opt(c)
            elif _eq(name, b"AmtDtls"):
                details = self._amount_details(c)
            elif _eq(name, b"Chrgs"):
                charges = charges + self._charges(c)
            elif _eq(name, b"NtryDtls"):
                d = c.children
                while d is not NULL:
                    sub = self._name(d)
                    if sub is not NULL:
                        if _eq(sub, b"TxDtls"):
                            txs.append(<object><size_t>d)
                        elif _eq(sub, b"Btch"):
                            batch_count = self._batch(d, batch_count, batch_sums)
                    d = d.next
            c = c.next
        if money is None or side is None or status is None:
            raise _Fallback  # derived amounts and refusals are the Python decoder's

        cdef Py_ssize_t i, count = len(txs)
        if count:
            transactions = tuple([
                self._transaction(<xmlNode*><size_t>txs[i], i, money, side, code, count == 1)
                for i in range(count)
            ])
        else:
            transactions = (
                Transaction(
                    0, money.amount, money.currency, side, details,
                    References(account_servicer_reference=acct_ref), None, None, None, None,
                    (), (), None, (), code, (), None, info, True, "entry",
                ),
            )
        if batch_count is None and count > 1:
            batch_count = count
        batch_sum = None
        if batch_sums:
            first = batch_sums[0].currency
            if all([m.currency == first for m in batch_sums]):
                batch_sum = sum([m.amount for m in batch_sums], _ZERO)
        line = ntry.sourceline
        return Entry(
            index, line if isinstance(line, int) and line else 0, money.amount, money.currency,
            side, status, reversal, booking_date, booking_dt, value_date, value_dt, acct_ref,
            entry_ref, code, batch_count, batch_sum, charges, details, info, transactions,
            False,
        )

    cdef object _batch(self, xmlNode* n, batch_count, list batch_sums):
        cdef xmlNode* c = n.children
        cdef const char* name
        while c is not NULL:
            name = self._name(c)
            if name is not NULL:
                if _eq(name, b"NbOfTxs"):
                    k = self._integer(c)
                    batch_count = k if batch_count is None else batch_count + k
                elif _eq(name, b"TtlAmt"):
                    batch_sums.append(self._amount(c))
            c = c.next
        return batch_count

    # ------------------------------------------------------------ transaction level

    cdef object _transaction(self, xmlNode* n, Py_ssize_t index, money, side, entry_code, bint single):
        cdef xmlNode* c = n.children
        cdef const char* name
        own = tx_side = code = purpose = info = return_reason = None
        details = _NO_AMOUNT_DETAILS
        refs = _NO_REFERENCES
        cdef dict parties = {}
        cdef list unstructured = []
        cdef list structured = []
        return_info = ()
        charges = ()
        while c is not NULL:
            name = self._name(c)
            if name is not NULL:
                if _eq(name, b"Refs"):
                    refs = self._references(c)
                elif _eq(name, b"AmtDtls"):
                    details = self._amount_details(c)
                elif _eq(name, b"RltdPties"):
                    self._related_parties(c, parties)
                elif _eq(name, b"RmtInf"):
                    self._remittance(c, unstructured, structured)
                elif _eq(name, b"Amt"):
                    own = self._amount(c)
                elif _eq(name, b"CdtDbtInd"):
                    tx_side = self._side(c)
                elif _eq(name, b"RltdAgts"):
                    self._related_agents(c, parties)
                elif _eq(name, b"BkTxCd"):
                    code = self._bank_transaction_code(c)
                elif _eq(name, b"Chrgs"):
                    charges = charges + self._charges(c)
                elif _eq(name, b"Purp"):
                    purpose = self._code_or_proprietary(c)
                elif _eq(name, b"RtrInf"):
                    return_reason, return_info = self._return_info(c)
                elif _eq(name, b"AddtlTxInf"):
                    info = self._opt(c)
            c = c.next

        if own is None and details.transaction is not None:
            own = details.transaction
        if own is not None:
            source = "own"
        elif single:
            own, source = money, "entry"
        elif details.instructed is not None and details.instructed.currency == money.currency:
            own, source = details.instructed, "instructed"
        else:
            own, source = Money(_ZERO, money.currency), "unknown"
        return Transaction(
            index, own.amount, own.currency, tx_side or side, details, refs,
            _party(parties.get("Dbtr")), _party(parties.get("UltmtDbtr")),
            _party(parties.get("Cdtr")), _party(parties.get("UltmtCdtr")),
            tuple(unstructured), tuple(structured), return_reason, return_info,
            code or entry_code, charges, purpose, info, False, source,
        )

    cdef object _references(self, xmlNode* n):
        cdef xmlNode* c = n.children
        cdef xmlNode* d
        cdef const char* name
        cdef const char* sub
        cdef Py_ssize_t k
        cdef list slots = [None] * 10
        cdef list proprietary = []
        while c is not NULL:
            name = self._name(c)
            if name is not NULL:
                for k in range(10):
                    if _eq(name, <const char*><bytes>_REF_NAMES[k]):
                        slots[k] = self._opt(c)
                        break
                else:
                    if _eq(name, b"Prtry"):
                        tp = ref = ""
                        d = c.children
                        while d is not NULL:
                            sub = self._name(d)
                            if sub is not NULL:
                                if _eq(sub, b"Tp"):
                                    tp = self._stripped(d)
                                elif _eq(sub, b"Ref"):
                                    ref = self._stripped(d)
                            d = d.next
                        proprietary.append((tp, ref))
            c = c.next
        return References(*slots, tuple(proprietary))

    cdef void _related_parties(self, xmlNode* n, dict parties) except *:
        cdef xmlNode* c = n.children
        cdef xmlNode* d
        cdef xmlNode* holder
        cdef const char* name
        cdef const char* sub
        while c is not NULL:
            name = self._name(c)
            if name is not NULL:
                if _eq(name, b"Dbtr") or _eq(name, b"UltmtDbtr") or _eq(name, b"Cdtr") or _eq(name, b"UltmtCdtr"):
                    holder = c
                    d = c.children
                    while d is not NULL:
                        sub = self._name(d)
                        if sub is not NULL and _eq(sub, b"Pty"):
                            holder = d
                            break
                        d = d.next
                    role = (<bytes>name).decode("ascii")
                    found = parties.get(role)
                    if found is None:
                        found = parties[role] = {}
                    self._party_fields(holder, found)
                elif _eq(name, b"DbtrAcct") or _eq(name, b"CdtrAcct"):
                    role = "Dbtr" if name[0] == c'D' else "Cdtr"
                    d = c.children
                    while d is not NULL:
                        sub = self._name(d)
                        if sub is not NULL and _eq(sub, b"Id"):
                            iban, other = self._account_id(d)
                            found = parties.get(role)
                            if found is None:
                                found = parties[role] = {}
                            found["iban"] = iban
                            found["other_account_id"] = other
                        d = d.next
            c = c.next

    cdef void _related_agents(self, xmlNode* n, dict parties) except *:
        cdef xmlNode* c = n.children
        cdef const char* name
        while c is not NULL:
            name = self._name(c)
            if name is not NULL and (_eq(name, b"DbtrAgt") or _eq(name, b"CdtrAgt")):
                bic = self._agent_bic(c)
                if bic is not None:
                    role = "Dbtr" if name[0] == c'D' else "Cdtr"
                    found = parties.get(role)
                    if found is None:
                        found = parties[role] = {}
                    found["agent_bic"] = bic
            c = c.next

    cdef void _party_fields(self, xmlNode* n, dict found) except *:
        """Decoder.party, merged into `found` as its dict.update does."""
        cdef xmlNode* c = n.children
        cdef xmlNode* d
        cdef const char* name
        cdef const char* sub
        cdef list lines
        while c is not NULL:
            name = self._name(c)
            if name is not NULL:
                if _eq(name, b"Nm"):
                    found["name"] = self._opt(c)
                elif _eq(name, b"PstlAdr"):
                    lines = []
                    d = c.children
                    while d is not NULL:
                        sub = self._name(d)
                        if sub is not NULL:
                            if _eq(sub, b"Ctry"):
                                found["country"] = self._opt(d)
                            elif _eq(sub, b"AdrLine"):
                                t = self._opt(d)
                                if t is not None:
                                    lines.append(t)
                        d = d.next
                    found["address_lines"] = tuple(lines)
                elif _eq(name, b"Id"):
                    d = c.children
                    while d is not NULL:
                        sub = self._name(d)
                        if sub is not NULL:
                            if _eq(sub, b"OrgId"):
                                found["organisation_id"] = self._first_identifier(d)
                            elif _eq(sub, b"PrvtId"):
                                found["private_id"] = self._first_identifier(d)
                        d = d.next
                elif _eq(name, b"FinInstnId"):
                    found["agent_bic"] = self._bic(c)
                elif _eq(name, b"Agt"):
                    found["agent_bic"] = self._agent_bic(c)
            c = c.next

    cdef object _first_identifier(self, xmlNode* n):
        cdef xmlNode* c = n.children
        cdef xmlNode* d
        cdef const char* name
        while c is not NULL:
            name = self._name(c)
            if name is not NULL:
                if _eq(name, b"AnyBIC") or _eq(name, b"BICOrBEI") or _eq(name, b"BIC") or _eq(name, b"LEI"):
                    return self._opt(c)
                if _eq(name, b"Othr"):
                    d = c.children
                    while d is not NULL:
                        name = self._name(d)
                        if name is not NULL and _eq(name, b"Id"):
                            return self._opt(d)
                        d = d.next
            c = c.next
        return None

    cdef object _party_name(self, xmlNode* n):
        cdef xmlNode* holder = n
        cdef xmlNode* c = n.children
        cdef const char* name
        while c is not NULL:
            name = self._name(c)
            if name is not NULL and _eq(name, b"Pty"):
                holder = c
                break
            c = c.next
        c = holder.children
        while c is not NULL:
            name = self._name(c)
            if name is not NULL and _eq(name, b"Nm"):
                return self._opt(c)
            c = c.next
        return None

    cdef void _remittance(self, xmlNode* n, list unstructured, list structured) except *:
        cdef xmlNode* c = n.children
        cdef const char* name
        while c is not NULL:
            name = self._name(c)
            if name is not NULL:
                if _eq(name, b"Ustrd"):
                    t = self._opt(c)
                    if t is not None:
                        unstructured.append(t)
                elif _eq(name, b"Strd"):
                    structured.append(self._structured(c))
            c = c.next

    cdef object _structured(self, xmlNode* n):
        cdef xmlNode* c = n.children
        cdef const char* name
        creditor_ref = invoicer = invoicee = None
        cdef list documents = []
        cdef list info = []
        while c is not NULL:
            name = self._name(c)
            if name is not NULL:
                if _eq(name, b"CdtrRefInf"):
                    creditor_ref = self._creditor_reference(c)
                elif _eq(name, b"RfrdDocInf"):
                    documents.append(self._referred_document(c))
                elif _eq(name, b"AddtlRmtInf"):
                    t = self._opt(c)
                    if t:
                        info.append(t)
                elif _eq(name, b"Invcr"):
                    invoicer = self._party_name(c)
                elif _eq(name, b"Invcee"):
                    invoicee = self._party_name(c)
            c = c.next
        return StructuredRemittance(creditor_ref, tuple(documents), tuple(info), invoicer, invoicee)

    cdef object _creditor_reference(self, xmlNode* n):
        cdef xmlNode* c = n.children
        cdef xmlNode* d
        cdef xmlNode* e
        cdef const char* name
        ref = type_code = type_prop = issuer = None
        while c is not NULL:
            name = self._name(c)
            if name is not NULL:
                if _eq(name, b"Ref"):
                    ref = self._opt(c)
                elif _eq(name, b"Tp"):
                    d = c.children
                    while d is not NULL:
                        name = self._name(d)
                        if name is not NULL:
                            if _eq(name, b"CdOrPrtry"):
                                e = d.children
                                while e is not NULL:
                                    name = self._name(e)
                                    if name is not NULL:
                                        if _eq(name, b"Cd"):
                                            type_code = self._opt(e)
                                        elif _eq(name, b"Prtry"):
                                            type_prop = self._opt(e)
                                    e = e.next
                            elif _eq(name, b"Issr"):
                                issuer = self._opt(d)
                        d = d.next
            c = c.next
        if ref is None:
            return None
        return CreditorReference(ref, type_code, type_prop, issuer)

    cdef object _referred_document(self, xmlNode* n):
        cdef xmlNode* c = n.children
        cdef xmlNode* d
        cdef const char* name
        number = type_code = day = None
        while c is not NULL:
            name = self._name(c)
            if name is not NULL:
                if _eq(name, b"Nb"):
                    number = self._opt(c)
                elif _eq(name, b"Tp"):
                    d = c.children
                    while d is not NULL:
                        name = self._name(d)
                        if name is not NULL and _eq(name, b"CdOrPrtry"):
                            type_code = self._code_or_proprietary(d)
                        d = d.next
                elif _eq(name, b"RltdDt"):
                    day = self._day(c)
            c = c.next
        return ReferredDocument(number, type_code, day)

    cdef tuple _return_info(self, xmlNode* n):
        cdef xmlNode* c = n.children
        cdef const char* name
        reason = None
        cdef list info = []
        while c is not NULL:
            name = self._name(c)
            if name is not NULL:
                if _eq(name, b"Rsn"):
                    reason = self._code_or_proprietary(c)
                elif _eq(name, b"AddtlInf"):
                    t = self._opt(c)
                    if t:
                        info.append(t)
            c = c.next
        return reason, tuple(info)


cdef object _party(found):
    if not found:
        return None
    return Party(**found)
