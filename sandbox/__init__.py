"""Imitation Baltic banks speaking Berlin Group NextGenPSD2: payment initiation with SCA
pages, account information with camt.053, an OAuth bank, ledgers and fault injection;
and an imitation card acquirer with a hosted card form, 3-D Secure and daily payouts.

Never imports the merchant side: kvits talks to these banks only over HTTP."""

from sandbox.acquirer import ACQUIRER_KEY, TEST_CARDS
from sandbox.app import SandboxConfig, create_app
from sandbox.banks import BANKS, BankProfile
from sandbox.faults import FaultPlan
from sandbox.users import ONE_TIME_CODE, USERS
from sandbox.world import FakeClock, Settings, World

__all__ = ["ACQUIRER_KEY", "BANKS", "ONE_TIME_CODE", "TEST_CARDS", "USERS", "BankProfile", "FakeClock",
           "FaultPlan", "SandboxConfig", "Settings", "World", "create_app"]
