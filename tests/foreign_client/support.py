"""Small helpers the tests share: loading the example crossings, calling the gateway, and
reading AIP-193 rich error details the way any grpcio client would."""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
from google.protobuf import json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from ports import GATEWAY

# Generated at session start by conftest.py from proto/.
from bordermesh.common.v1 import common_pb2
from bordermesh.crossing.v1 import crossing_pb2, crossing_pb2_grpc

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "crossings"
# A debug build fans out to three services and writes four SQLite files per crossing.
CALL_TIMEOUT = 30.0


def load_example(name: str) -> crossing_pb2.ProcessCrossingRequest:
    """An example crossing as proto3 JSON, parsed strictly (unknown fields are an error)."""
    request = crossing_pb2.ProcessCrossingRequest()
    json_format.Parse((EXAMPLES / name).read_text(), request)
    return request


def fresh(request: crossing_pb2.ProcessCrossingRequest) -> crossing_pb2.ProcessCrossingRequest:
    """A copy of the request with a new uuid4 request_id."""
    copy = crossing_pb2.ProcessCrossingRequest()
    copy.CopyFrom(request)
    copy.request_id = str(uuid.uuid4())
    return copy


def crossing_stub(mesh) -> crossing_pb2_grpc.CrossingServiceStub:
    return crossing_pb2_grpc.CrossingServiceStub(mesh.channel(GATEWAY))


def show(message) -> str:
    """A message as proto3 JSON, for assertion messages that say what the server answered."""
    return json_format.MessageToJson(message, indent=2)


def agency_name(value: int) -> str:
    return common_pb2.Agency.Name(value)


def outcome_name(value: int) -> str:
    return crossing_pb2.Outcome.Name(value)


def field_violations(error: grpc.RpcError) -> list[error_details_pb2.BadRequest.FieldViolation]:
    """The google.rpc.BadRequest field violations in the error's grpc-status-details-bin."""
    try:
        status = rpc_status.from_call(error)
    except ValueError as e:  # from_call checks code and message against the trailers
        raise AssertionError(f"inconsistent google.rpc.Status details: {e}") from e
    assert status is not None, (
        f"{error.code().name} carries no google.rpc.Status details "
        f"(grpc-status-details-bin trailer); message: {error.details()!r}"
    )
    assert status.code == error.code().value[0], (
        f"google.rpc.Status code {status.code} differs from the gRPC status {error.code()}"
    )
    violations = []
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            violations.extend(bad_request.field_violations)
    return violations


def describe_error(error: grpc.RpcError) -> str:
    """Code, message and every detail of an error, for assertion messages."""
    parts = [f"{error.code().name}: {error.details()!r}"]
    try:
        status = rpc_status.from_call(error)
    except ValueError as e:  # from_call raises when the message in the details differs
        return parts[0] + f" (inconsistent rich status: {e})"
    if status is not None:
        for detail in status.details:
            parts.append(f"  detail {detail.type_url}")
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad_request = error_details_pb2.BadRequest()
                detail.Unpack(bad_request)
                for v in bad_request.field_violations:
                    parts.append(f"    {v.field}: {v.description}")
            elif detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                parts.append(f"    reason={info.reason} domain={info.domain}")
    return "\n".join(parts)
