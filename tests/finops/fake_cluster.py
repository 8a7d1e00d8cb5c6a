"""A fake Kubernetes cluster's metrics on loopback: what kube-state-metrics, cAdvisor, the DCGM
exporter and Karpenter would export for one spot node running one serving pod and one other.

Prometheus scrapes it like any exporter, so the monitor's PromQL runs for real against it.
The CPU usage counter grows at ``serving_cpu_cores`` per second of wall time; the spot
interruption counter is what the test sets.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

GIB = 2**30


@dataclass
class FakeCluster:
    """One node of ``instance_type`` (spot) in ``region`` holding the pod ``serving_pod``
    (container serve) and a kube-system pod; the figures are what each requests and uses."""

    serving_pod: str
    instance_type: str = "t3.medium"
    region: str = "us-east-1"
    node: str = "ip-10-0-1-17.ec2.internal"
    serving_request_cpu: float = 0.5
    serving_cpu_cores: float = 0.8
    serving_request_gib: float = 1.0
    serving_working_set_gib: float = 0.5
    other_request_cpu: float = 0.25
    other_request_gib: float = 0.5
    gpu_util_percent: float = 20.0
    spot_interruptions: int = 0
    url: str = ""
    _started: float = field(default_factory=time.monotonic)
    _server: ThreadingHTTPServer | None = None

    def exposition(self) -> str:
        """The metrics text, as a scrape now reads it."""
        pod, node = self.serving_pod, self.node
        serving = f'namespace="default",pod="{pod}",container="serve"'
        other = 'namespace="kube-system",pod="aws-node-7xk2p",container="aws-node"'
        used_cpu_s = self.serving_cpu_cores * (time.monotonic() - self._started)
        lines = [
            f'kube_node_info{{node="{node}",provider_id="aws:///{self.region}a/i-0f1e2d3c4b5a69788"}} 1',
            f'kube_node_labels{{node="{node}",label_node_kubernetes_io_instance_type="{self.instance_type}",'
            f'label_topology_kubernetes_io_region="{self.region}",label_karpenter_sh_capacity_type="spot"}} 1',
            f'kube_pod_info{{namespace="default",pod="{pod}",node="{node}"}} 1',
            f'kube_pod_info{{namespace="kube-system",pod="aws-node-7xk2p",node="{node}"}} 1',
            f'kube_pod_container_resource_requests{{{serving},node="{node}",resource="cpu",unit="core"}} {self.serving_request_cpu}',
            f'kube_pod_container_resource_requests{{{serving},node="{node}",resource="memory",unit="byte"}} {self.serving_request_gib * GIB:.0f}',
            f'kube_pod_container_resource_requests{{{other},node="{node}",resource="cpu",unit="core"}} {self.other_request_cpu}',
            f'kube_pod_container_resource_requests{{{other},node="{node}",resource="memory",unit="byte"}} {self.other_request_gib * GIB:.0f}',
            f"container_cpu_usage_seconds_total{{{serving}}} {used_cpu_s:.6f}",
            f"container_memory_working_set_bytes{{{serving}}} {self.serving_working_set_gib * GIB:.0f}",
            f'DCGM_FI_DEV_GPU_UTIL{{gpu="0",{serving}}} {self.gpu_util_percent}',
            f'karpenter_interruption_received_messages_total{{message_type="spot_interrupted"}} {self.spot_interruptions}',
        ]
        return "\n".join(lines) + "\n"

    def __enter__(self) -> FakeCluster:
        cluster = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = cluster.exposition().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
