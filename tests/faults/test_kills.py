"""SIGKILL at random moments while mixed uploads run, restart on the same folders: nothing lost,
nothing stuck, nothing left over; and the two kills that used to do harm, done on purpose."""

from __future__ import annotations

from tests.faults.conftest import MakeFaultServer
from tests.faults.scenarios import kill_rounds, kill_while_finishing, leftovers_removed_at_start


def test_two_rounds_of_eight_mixed_uploads_with_a_kill_each(
    make_fault_server: MakeFaultServer,
) -> None:
    server = make_fault_server("-a")
    figures = kill_rounds(server, rounds=2, uploads_per_round=8)
    assert figures.values["lost"] == 0


def test_a_kill_between_the_move_and_the_database_leaves_the_file_complete(
    make_fault_server: MakeFaultServer,
) -> None:
    kill_while_finishing(make_fault_server("-a"))


def test_what_kills_leave_behind_is_removed_at_start(make_fault_server: MakeFaultServer) -> None:
    leftovers_removed_at_start(make_fault_server("-a"))
