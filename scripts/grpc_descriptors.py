"""Writes the Open Inference Protocol's gRPC service (KServe v2's
`inference.GRPCInferenceService` with Triton's extras) as a binary FileDescriptorSet, taken
from the descriptors that ship in the `tritonclient` wheel. assay-gateway's build script
generates its server code from this file with tonic; no `.proto` text is kept in the repo.

usage: grpc_descriptors.py OUT.fds
"""

import sys

from google.protobuf import descriptor_pb2
from tritonclient.grpc import service_pb2


def main():
    out = sys.argv[1]
    files = descriptor_pb2.FileDescriptorSet()
    seen = set()

    def add(fd):
        # Dependencies first: the set must be closed and in import order.
        if fd.name in seen:
            return
        for dep in fd.dependencies:
            add(dep)
        seen.add(fd.name)
        files.file.append(descriptor_pb2.FileDescriptorProto.FromString(fd.serialized_pb))

    add(service_pb2.DESCRIPTOR)
    with open(out, "wb") as f:
        f.write(files.SerializeToString())
    print(f"wrote {', '.join(sorted(seen))} to {out}")


if __name__ == "__main__":
    main()
