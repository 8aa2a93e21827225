"""PBX simulator: an asyncio stand-in for Asterisk 22 running the project's dialplan.

AMI server + FastAGI client + synthetic load + a ground-truth ledger per call.
"""

from asterisk.sim.config import AmiUser, CallScript, EndpointBehaviour, LoadProfile, SimConfig
from asterisk.sim.simulator import PbxSimulator, SimulatorNotRunning
from asterisk.sim.truth import OUTCOMES, CallTruth, Offer, Outcome

__all__ = [
    "OUTCOMES",
    "AmiUser",
    "CallScript",
    "CallTruth",
    "EndpointBehaviour",
    "LoadProfile",
    "Offer",
    "Outcome",
    "PbxSimulator",
    "SimConfig",
    "SimulatorNotRunning",
]
