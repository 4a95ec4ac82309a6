"""Where `bordermesh up` listens (ARCHITECTURE.md, "Ports for `bordermesh up`")."""

HOST = "127.0.0.1"

SERVICES = {
    50051: "bordermesh.crossing.v1.CrossingService",
    50052: "bordermesh.identity.v1.IdentityService",
    50053: "bordermesh.customs.v1.CustomsService",
    50054: "bordermesh.sanitary.v1.SanitaryService",
}

GATEWAY = 50051
