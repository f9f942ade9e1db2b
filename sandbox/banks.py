"""The imitation banks: who they are and how each one's API differs.

Four bank families, the ones a Baltic PSD2 client must cope with:
- ``redirect``: plain redirect SCA, implicit authorisation, absolute links;
- ``oauth``: the OAuth SCA approach: TPP calls need a client-credentials token, the payer
  authorises through an authorization-code + PKCE flow announced by ``scaOAuth``;
- ``explicit``: every payment needs an explicit ``startAuthorisation`` call;
- ``hub``: one host for the banks of three countries, chosen by ``?bic=`` on every call,
  host-relative links and a required ``PSU-User-Agent`` (as Swedbank does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Dialect = Literal["redirect", "oauth", "explicit", "hub"]
PRODUCTS = ("sepa-credit-transfers", "instant-sepa-credit-transfers")


@dataclass(frozen=True, slots=True)
class BankProfile:
    id: str
    name: str
    bic: str
    country: str
    dialect: Dialect
    # path of the bank's host inside the sandbox app; the API lives under path + api_prefix
    host_path: str
    api_prefix: str = ""
    products: tuple[str, ...] = PRODUCTS
    # two letters of the bank code in its IBANs
    iban_bank_code: str = ""
    # unstructured remittance limit of this bank (the standard allows 140)
    max_unstructured: int = 140
    required_headers: tuple[str, ...] = ()
    relative_links: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def api_path(self) -> str:
        """Where `/v1/...` starts, relative to the sandbox's root."""
        return self.host_path + self.api_prefix

    @property
    def sca_approach(self) -> str:
        # the standard's header value: OAuth counts as a redirect approach
        return "REDIRECT"


BANKS: tuple[BankProfile, ...] = (
    BankProfile(
        id="dzintars", name="Dzintara Banka", bic="DZINLV22", country="LV", dialect="redirect",
        host_path="/dzintars", iban_bank_code="DZIN",
    ),
    BankProfile(
        id="kalevi", name="Kalevi Pank", bic="KALVEE22", country="EE", dialect="oauth",
        host_path="/kalevi", iban_bank_code="71",
    ),
    BankProfile(
        id="gintaro", name="Gintaro bankas", bic="GINTLT22", country="LT", dialect="explicit",
        host_path="/gintaro", iban_bank_code="73100", products=("sepa-credit-transfers",),
    ),
    *(
        BankProfile(
            id=f"nordbalt-{country.lower()}", name=f"Nordbalt Bank {country}", bic=bic, country=country,
            dialect="hub", host_path="/nordbalt", api_prefix="/psd2", iban_bank_code=code,
            max_unstructured=35, required_headers=("PSU-User-Agent",), relative_links=True,
        )
        for country, bic, code in (("LV", "NRDBLV22", "NRDB"), ("EE", "NRDBEE22", "72"), ("LT", "NRDBLT22", "73200"))
    ),
)

BY_ID = {b.id: b for b in BANKS}
BY_BIC = {b.bic: b for b in BANKS}


def hosts() -> dict[str, list[BankProfile]]:
    """Sandbox host path -> the banks served there (one, or several chosen by ?bic=)."""
    result: dict[str, list[BankProfile]] = {}
    for bank in BANKS:
        result.setdefault(bank.api_path, []).append(bank)
    return result
