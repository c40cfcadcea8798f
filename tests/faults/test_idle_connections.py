"""Sixty connections that say nothing, send headers a byte a second or a chunk two bytes a second
do not slow a normal upload down (the full bench uses 300)."""

from __future__ import annotations

from tests.faults.conftest import MakeFaultServer
from tests.faults.scenarios import idle_connections


def test_sixty_idle_or_trickling_connections_leave_a_normal_upload_alone(
    make_fault_server: MakeFaultServer,
) -> None:
    idle_connections(make_fault_server("-a"), 60)
