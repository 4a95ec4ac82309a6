"""Server reflection, as grpcurl or a foreign team's tooling uses it to discover the mesh.

grpcio-reflection ships Python messages only for grpc.reflection.v1alpha. The v1 protocol has
the same messages field for field (v1 was a rename of the package), so the v1alpha classes are
used to speak v1 on its own method path; v1alpha is asked as well, since older tools only know it.
"""

import pytest
from google.protobuf import descriptor_pb2
from grpc_reflection.v1alpha import reflection_pb2

from ports import SERVICES

HEALTH = "grpc.health.v1.Health"
METHODS = {
    "v1": "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "v1alpha": "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
}


def reflect(mesh, port: int, version: str, request: reflection_pb2.ServerReflectionRequest):
    call = mesh.channel(port).stream_stream(
        METHODS[version],
        request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
        response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
    )
    replies = list(call(iter([request]), timeout=5))
    assert len(replies) == 1, f"expected one reply to one request, got {len(replies)}"
    reply = replies[0]
    assert not reply.HasField("error_response"), (
        f"reflection {version} on :{port} answered error "
        f"{reply.error_response.error_code}: {reply.error_response.error_message!r}"
    )
    return reply


@pytest.mark.parametrize("version", ["v1", "v1alpha"])
@pytest.mark.parametrize("port,service", sorted(SERVICES.items()))
def test_list_services(mesh, port, service, version):
    reply = reflect(mesh, port, version, reflection_pb2.ServerReflectionRequest(list_services=""))
    listed = sorted(s.name for s in reply.list_services_response.service)
    assert service in listed, f"{service} not listed by reflection {version} on :{port}: {listed}"
    assert HEALTH in listed, f"{HEALTH} not listed by reflection {version} on :{port}: {listed}"


@pytest.mark.parametrize("port,service", sorted(SERVICES.items()))
def test_describe_service(mesh, port, service):
    """`grpcurl describe`: the file that defines the service comes back and defines it."""
    reply = reflect(
        mesh, port, "v1", reflection_pb2.ServerReflectionRequest(file_containing_symbol=service)
    )
    files = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in reply.file_descriptor_response.file_descriptor_proto
    ]
    package, _, name = service.rpartition(".")
    defining = [f for f in files if f.package == package and any(s.name == name for s in f.service)]
    assert defining, (
        f"no file descriptor for {service} from :{port}; got {[f.name for f in files]}"
    )
    methods = [m.name for s in defining[0].service if s.name == name for m in s.method]
    assert methods, f"{service} has no methods in its descriptor"
