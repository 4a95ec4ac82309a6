"""Personal data never goes into logs (ARCHITECTURE.md, Telemetry): a traveller with a name and
a document number seen nowhere else crosses, and the mesh's output must not contain either."""

import random
import string
import time
import uuid

from bordermesh.common.v1 import common_pb2
from bordermesh.crossing.v1 import crossing_pb2
from bordermesh.identity.v1 import identity_pb2
from support import CALL_TIMEOUT, crossing_stub, show


def check_digit(field: str) -> str:
    """ICAO 9303 Part 3, 4.9: weights 7-3-1, digits as themselves, A-Z as 10-35, '<' as 0."""
    def value(c: str) -> int:
        if c.isdigit():
            return int(c)
        if c == "<":
            return 0
        return ord(c) - ord("A") + 10

    return str(sum(value(c) * (7, 3, 1)[i % 3] for i, c in enumerate(field)) % 10)


def td3_mrz(surname: str, given: str, number: str, nationality: str, birth: str, sex: str,
            expiry: str) -> str:
    """A passport machine readable zone (ICAO 9303 Part 4) with correct check digits."""
    line1 = f"P<{nationality}{surname}<<{given}".ljust(44, "<")
    number = number.ljust(9, "<")
    optional = "<" * 14
    part_number = number + check_digit(number)
    part_birth = birth + check_digit(birth)
    part_expiry = expiry + check_digit(expiry)
    part_optional = optional + "<"  # an empty optional data field may have '<' as its digit
    composite = check_digit(part_number + part_birth + part_expiry + part_optional)
    line2 = f"{part_number}{nationality}{part_birth}{sex}{part_expiry}{part_optional}{composite}"
    assert len(line1) == 44 and len(line2) == 44
    return f"{line1}\n{line2}"


def test_the_check_digit_helper_reproduces_an_example():
    # The valid passenger of examples/crossings/tourist-car-cleared.json.
    assert td3_mrz("WILLIAMS", "AROHA", "LM0123456", "NZL", "950330", "F", "320117") == (
        "P<NZLWILLIAMS<<AROHA<<<<<<<<<<<<<<<<<<<<<<<<\n"
        "LM01234568NZL9503308F3201174<<<<<<<<<<<<<<<2"
    )


def test_no_name_or_document_number_in_the_mesh_output(mesh):
    rng = random.Random()
    surname = "ZQ" + "".join(rng.choice(string.ascii_uppercase) for _ in range(10))
    number = "ZQ" + "".join(rng.choice(string.digits) for _ in range(7))
    request = crossing_pb2.ProcessCrossingRequest(request_id=str(uuid.uuid4()))
    crossing = request.crossing
    crossing.crossing_point.code = "SI-OBREZJE"
    crossing.crossing_point.country = "SVN"
    crossing.direction = common_pb2.DIRECTION_ENTRY
    crossing.transport_mode = common_pb2.TRANSPORT_MODE_PEDESTRIAN
    crossing.crossing_date.CopyFrom(common_pb2.Date(year=2026, month=7, day=15))
    crossing.travellers.append(
        identity_pb2.Traveller(
            reference="pedestrian",
            document=identity_pb2.TravelDocument(
                mrz=td3_mrz(surname, "PROBE", number, "NZL", "900101", "M", "340101")
            ),
            intended_departure=common_pb2.Date(year=2026, month=7, day=20),
        )
    )
    response = crossing_stub(mesh).ProcessCrossing(request, timeout=CALL_TIMEOUT)
    assert response.crossing.crossing_id, f"no crossing_id:\n{show(response)}"

    time.sleep(1.0)  # let the mesh finish writing what it logs about the call
    log = mesh.log_text()
    leaks = [
        line.strip()
        for line in log.splitlines()
        if surname in line or number in line
    ]
    assert not leaks, (
        f"the mesh logged the traveller's surname {surname!r} or document number {number!r} "
        f"({mesh.log_path}):\n" + "\n".join(leaks[:10])
    )
