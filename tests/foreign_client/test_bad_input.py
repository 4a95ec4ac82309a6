"""What a careless foreign system sends, and the AIP-193 errors it must get back."""

import uuid

import grpc
import pytest

from bordermesh.crossing.v1 import crossing_pb2
from support import CALL_TIMEOUT, crossing_stub, describe_error, field_violations, fresh, load_example

INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT


def rejected(mesh, request) -> grpc.RpcError:
    """Submits the request and returns the error; fails if the gateway accepted it."""
    try:
        response = crossing_stub(mesh).ProcessCrossing(request, timeout=CALL_TIMEOUT)
    except grpc.RpcError as error:
        assert error.code() == INVALID_ARGUMENT, (
            f"expected INVALID_ARGUMENT, got {describe_error(error)}"
        )
        return error
    pytest.fail(f"the gateway accepted an invalid request and answered:\n{response}")


def empty_crossing(header: bool) -> crossing_pb2.ProcessCrossingRequest:
    request = crossing_pb2.ProcessCrossingRequest(request_id=str(uuid.uuid4()))
    if header:
        # Where, when and how, but nobody and nothing crossing.
        tourist = load_example("tourist-car-cleared.json").crossing
        request.crossing.crossing_point.CopyFrom(tourist.crossing_point)
        request.crossing.direction = tourist.direction
        request.crossing.transport_mode = tourist.transport_mode
        request.crossing.crossing_date.CopyFrom(tourist.crossing_date)
    else:
        request.crossing.SetInParent()  # present but empty
    return request


@pytest.mark.parametrize("header", [False, True], ids=["bare", "with-crossing-point-and-date"])
def test_empty_crossing_is_invalid_argument_with_field_violations(mesh, header):
    request = empty_crossing(header)
    assert not request.crossing.travellers and not request.crossing.goods
    assert not request.crossing.consignments
    error = rejected(mesh, request)
    assert field_violations(error), f"no BadRequest field violation: {describe_error(error)}"


def test_lower_case_mrz_is_a_field_violation_on_that_mrz(mesh):
    request = fresh(load_example("tourist-car-cleared.json"))
    document = request.crossing.travellers[0].document
    document.mrz = document.mrz.lower()
    error = rejected(mesh, request)
    fields = [v.field for v in field_violations(error)]
    assert "crossing.travellers[0].document.mrz" in fields, (
        f"no violation on crossing.travellers[0].document.mrz; got {describe_error(error)}"
    )


@pytest.mark.parametrize(
    "request_id",
    ["not-a-uuid", "5b0c1c2e-4f55-4c43-9d55-2f1f6c1a00zz"],
    ids=["words", "uuid-shaped-with-non-hex"],
)
def test_request_id_that_is_not_a_uuid_is_a_field_violation(mesh, request_id):
    request = load_example("tourist-car-cleared.json")
    request.request_id = request_id
    error = rejected(mesh, request)
    fields = [v.field for v in field_violations(error)]
    assert "request_id" in fields, f"no violation on request_id; got {describe_error(error)}"
