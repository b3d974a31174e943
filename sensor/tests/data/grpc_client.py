"""A client of the sensor's gRPC API in another implementation (Python grpcio), for
sensor/tests/grpc.rs: its stubs are generated from proto/sensor/v1/sensor.proto by
grpc_tools.protoc at test time and found on PYTHONPATH.

    grpc_client.py SOCKET RULE MIN_PRIORITY

Over the Unix socket it calls Status and ListRules, lists the services through server
reflection, then subscribes to RULE at MIN_PRIORITY or above and prints the first alert.
One JSON object per line, each with a `kind`.
"""

import json
import sys

import grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from sensor.v1 import sensor_pb2, sensor_pb2_grpc


def emit(kind, **fields):
    print(json.dumps({"kind": kind, **fields}), flush=True)


def main():
    socket, rule, min_priority = sys.argv[1:4]
    # Default settings, as a consumer writes them: gRPC's C core sends the socket's path as
    # `:authority` here, which the sensor's server accepts (vendor/README.md, h2's patch).
    channel = grpc.insecure_channel(f"unix://{socket}")
    stub = sensor_pb2_grpc.SensorStub(channel)

    status = stub.Status(sensor_pb2.StatusRequest(), timeout=10)
    emit(
        "status",
        version=status.version,
        uptime_seconds=status.uptime.ToTimedelta().total_seconds(),
        kernel=status.kernel,
        hostname=status.hostname,
        rules_loaded=status.rules_loaded,
        subscribers=len(status.subscribers),
    )

    listed = stub.ListRules(sensor_pb2.ListRulesRequest(), timeout=10)
    emit(
        "rules",
        rules=[
            {
                "name": r.name,
                "priority": sensor_pb2.Priority.Name(r.priority),
                "tags": list(r.tags),
                "source": r.source,
                "event_types": list(r.event_types),
                "enabled": r.enabled,
            }
            for r in listed.rules
        ],
    )

    emit("reflection", services=sorted(ProtoReflectionDescriptorDatabase(channel).get_services()))

    request = sensor_pb2.SubscribeRequest(
        rules=[rule],
        min_priority=sensor_pb2.Priority.Value(min_priority),
        client_name="python-grpcio",
    )
    stream = stub.Subscribe(request, timeout=60)
    emit("subscribing")
    for response in stream:
        if response.WhichOneof("message") != "alert":
            continue
        alert = response.alert
        p = alert.process
        emit(
            "alert",
            time=alert.time.ToJsonString(),
            rule=alert.rule,
            priority=alert.priority,
            priority_name=sensor_pb2.Priority.Name(alert.priority),
            source=alert.source,
            hostname=alert.hostname,
            output=alert.output,
            output_fields=dict(alert.output_fields),
            tags=list(alert.tags),
            event_type=alert.event_type,
            sequence=alert.sequence,
            falco_json=alert.falco_json,
            process={
                "pid": p.pid,
                "ppid": p.ppid,
                "name": p.name,
                "exe_path": p.exe_path,
                "cmdline": p.cmdline,
                "uid": p.uid,
            },
        )
        stream.cancel()
        break
    channel.close()


if __name__ == "__main__":
    main()
