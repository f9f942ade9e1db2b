"""Imitation Baltic banks speaking Berlin Group NextGenPSD2: payment initiation with SCA
pages, account information with camt.053, an OAuth bank, ledgers and fault injection.

Never imports the merchant side: kvits talks to these banks only over HTTP."""

from sandbox.app import SandboxConfig, create_app
from sandbox.banks import BANKS, BankProfile
from sandbox.faults import FaultPlan
from sandbox.users import ONE_TIME_CODE, USERS
from sandbox.world import FakeClock, Settings, World

__all__ = ["BANKS", "ONE_TIME_CODE", "USERS", "BankProfile", "FakeClock", "FaultPlan", "SandboxConfig",
           "Settings", "World", "create_app"]
