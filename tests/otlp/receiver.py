"""A real OTLP/HTTP trace receiver for the tests: decodes each POST /v1/traces body as an
ExportTraceServiceRequest with the official opentelemetry-proto package, and serves what it
got as JSON on GET /spans (one object per span, ids in lowercase hex) and the export
requests' headers on GET /exports.

    python3 receiver.py [--delay SECONDS] [--status CODE]

prints `listening on http://127.0.0.1:PORT` once it accepts connections.
"""

import argparse
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

LOCK = threading.Lock()
SPANS = []
EXPORTS = []


def value_of(any_value):
    kind = any_value.WhichOneof("value")
    if kind == "array_value":
        return [value_of(v) for v in any_value.array_value.values]
    if kind is None:
        return None
    return getattr(any_value, kind)


def attributes(kvs):
    return {kv.key: value_of(kv.value) for kv in kvs}


def flatten(request):
    spans = []
    for rs in request.resource_spans:
        resource = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for span in ss.spans:
                spans.append({
                    "trace_id": span.trace_id.hex(),
                    "span_id": span.span_id.hex(),
                    "parent_span_id": span.parent_span_id.hex(),
                    "flags": span.flags,
                    "name": span.name,
                    "kind": span.kind,
                    "start_ns": span.start_time_unix_nano,
                    "end_ns": span.end_time_unix_nano,
                    "attributes": attributes(span.attributes),
                    "events": [
                        {"name": e.name, "time_ns": e.time_unix_nano,
                         "attributes": attributes(e.attributes)}
                        for e in span.events
                    ],
                    "status": {"code": span.status.code, "message": span.status.message},
                    "resource": resource,
                    "scope": ss.scope.name,
                })
    return spans


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, content_type):
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        if ARGS.delay:
            time.sleep(ARGS.delay)
        if self.path != "/v1/traces":
            return self.answer(404, b"", "text/plain")
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        with LOCK:
            EXPORTS.append({
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "spans": sum(len(ss.spans) for rs in request.resource_spans
                             for ss in rs.scope_spans),
                "json": MessageToDict(request) if ARGS.keep_json else None,
            })
            if ARGS.status == 200:
                SPANS.extend(flatten(request))
        out = ExportTraceServiceResponse().SerializeToString()
        self.answer(ARGS.status, out, "application/x-protobuf")

    def do_GET(self):
        with LOCK:
            if self.path == "/spans":
                data = SPANS
            elif self.path == "/exports":
                data = EXPORTS
            else:
                return self.answer(404, b"", "text/plain")
            body = json.dumps(data).encode()
        self.answer(200, body, "application/json")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--keep-json", action="store_true")
    ARGS = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
