"""The example crossings under examples/crossings, submitted as a national system would."""

import re

from bordermesh.common.v1 import common_pb2
from bordermesh.crossing.v1 import crossing_pb2
from support import (
    CALL_TIMEOUT,
    agency_name,
    crossing_stub,
    fresh,
    load_example,
    outcome_name,
    show,
)

Outcome = crossing_pb2.Outcome
# CHED-P and not CHED-PP: frozen beef is a product of animal origin, not a plant product.
CHED_P_CODE = re.compile(r"CHED_P(?!P)")
CHED_P_TEXT = re.compile(r"CHED-P(?!P)")


def process(mesh, name: str) -> crossing_pb2.Crossing:
    request = fresh(load_example(name))
    response = crossing_stub(mesh).ProcessCrossing(request, timeout=CALL_TIMEOUT)
    crossing = response.crossing
    assert crossing.crossing_id, f"no crossing_id in the answer:\n{show(response)}"
    return crossing


def expect_outcome(crossing, expected: int) -> None:
    assert crossing.decision.outcome == expected, (
        f"outcome {outcome_name(crossing.decision.outcome)}, expected {outcome_name(expected)}; "
        f"decision:\n{show(crossing.decision)}"
    )


def expect_referred_to(crossing, agency: int) -> None:
    referred = [agency_name(a) for a in crossing.decision.referred_to]
    assert agency in crossing.decision.referred_to, (
        f"{agency_name(agency)} not in referred_to {referred}; decision:\n{show(crossing.decision)}"
    )


def test_tourist_car_is_cleared(mesh):
    crossing = process(mesh, "tourist-car-cleared.json")
    expect_outcome(crossing, Outcome.OUTCOME_CLEARED)


def test_lorry_of_frozen_meat_is_referred_to_sanitary_for_ched_p(mesh):
    crossing = process(mesh, "lorry-frozen-meat-referred.json")
    expect_outcome(crossing, Outcome.OUTCOME_REFERRED)
    expect_referred_to(crossing, common_pb2.AGENCY_SANITARY)
    ched_p = [
        (finding.subject, reason.code, reason.message)
        for finding in crossing.decision.findings
        if finding.agency == common_pb2.AGENCY_SANITARY
        for reason in finding.reasons
        if CHED_P_CODE.search(reason.code) or CHED_P_TEXT.search(reason.message)
    ]
    assert ched_p, (
        "no AGENCY_SANITARY finding names CHED-P in a reason code or message; "
        f"findings:\n{show(crossing.decision)}"
    )


def test_traveller_with_bad_check_digit_is_referred_to_border_police(mesh):
    crossing = process(mesh, "traveller-bad-check-digit-referred.json")
    expect_outcome(crossing, Outcome.OUTCOME_REFERRED)
    expect_referred_to(crossing, common_pb2.AGENCY_BORDER_POLICE)
    matching = [
        reason
        for finding in crossing.decision.findings
        for reason in finding.reasons
        if reason.subject == "travellers[0].document.mrz"
        and reason.code == "MRZ_CHECK_DIGIT"
        and "document_number" in reason.message
    ]
    assert matching, (
        "no reason with subject 'travellers[0].document.mrz', code 'MRZ_CHECK_DIGIT' and a "
        f"message naming 'document_number'; decision:\n{show(crossing.decision)}"
    )


def test_repeat_of_a_request_returns_the_same_crossing(mesh):
    """AIP-155: a retry with the same request_id is answered with the first crossing."""
    stub = crossing_stub(mesh)
    request = fresh(load_example("tourist-car-cleared.json"))
    first = stub.ProcessCrossing(request, timeout=CALL_TIMEOUT).crossing
    second = stub.ProcessCrossing(request, timeout=CALL_TIMEOUT).crossing
    assert first.crossing_id, f"no crossing_id in the first answer:\n{show(first)}"
    assert second.crossing_id == first.crossing_id, (
        f"the repeat got crossing {second.crossing_id!r}, the first call {first.crossing_id!r}"
    )
    assert second.decision.outcome == first.decision.outcome, (
        f"the repeat got {outcome_name(second.decision.outcome)}, "
        f"the first call {outcome_name(first.decision.outcome)}"
    )

    got = stub.GetCrossing(
        crossing_pb2.GetCrossingRequest(crossing_id=first.crossing_id), timeout=CALL_TIMEOUT
    ).crossing
    assert got.crossing_id == first.crossing_id, f"GetCrossing returned another crossing:\n{show(got)}"
    assert got.request_id == request.request_id, (
        f"GetCrossing request_id {got.request_id!r}, submitted {request.request_id!r}"
    )
    assert got.status == crossing_pb2.CROSSING_STATUS_DECIDED, (
        f"status {crossing_pb2.CrossingStatus.Name(got.status)}, expected CROSSING_STATUS_DECIDED:\n"
        f"{show(got)}"
    )
