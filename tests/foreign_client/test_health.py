"""grpc.health.v1 as a load balancer or a national system's monitoring would ask it."""

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from ports import SERVICES

SERVING = health_pb2.HealthCheckResponse.SERVING


def check(mesh, port: int, service: str):
    stub = health_pb2_grpc.HealthStub(mesh.channel(port))
    return stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)


@pytest.mark.parametrize("port", sorted(SERVICES))
def test_overall_health_is_serving(mesh, port):
    reply = check(mesh, port, "")
    assert reply.status == SERVING, (
        f'Check("") on :{port} answered {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}'
    )


@pytest.mark.parametrize("port,service", sorted(SERVICES.items()))
def test_service_health_is_serving(mesh, port, service):
    reply = check(mesh, port, service)
    assert reply.status == SERVING, (
        f"Check({service!r}) on :{port} answered "
        f"{health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}"
    )


@pytest.mark.parametrize("port", sorted(SERVICES))
def test_unknown_service_is_not_found(mesh, port):
    # grpc.health.v1 contract: a service the server does not know answers NOT_FOUND.
    with pytest.raises(grpc.RpcError) as caught:
        check(mesh, port, "bordermesh.nosuch.v1.NoSuchService")
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND, (
        f"expected NOT_FOUND, got {caught.value.code().name}: {caught.value.details()!r}"
    )
