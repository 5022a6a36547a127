package dev.salient.server.cluster;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.List;

/**
 * The cluster on the gateway's Prometheus endpoint: members by status and reachability, and the
 * jobs each worker node reported.
 */
public final class ClusterMetrics {
  private static final List<String> STATUSES =
      List.of("Joining", "WeaklyUp", "Up", "Leaving", "Exiting", "Down", "Removed");

  private ClusterMetrics() {}

  /** Registers the cluster's gauges on {@code registry}, read from {@code view} when scraped. */
  public static void register(MeterRegistry registry, ClusterView view) {
    for (String status : STATUSES) {
      Gauge.builder("salient_cluster_members", view,
              v -> v.members().stream().filter(m -> m.status().equals(status)).count())
          .description("Members of the cluster by status").tag("status", status)
          .register(registry);
    }
    Gauge.builder("salient_cluster_unreachable_members", view,
            v -> v.members().stream().filter(m -> !m.reachable()).count())
        .description("Members the failure detector marks unreachable").register(registry);
    Gauge.builder("salient_cluster_worker_nodes", view, v -> v.workerNodes().size())
        .description("Worker nodes that reported their load").register(registry);
    Gauge.builder("salient_cluster_worker_node_jobs", view,
            v -> v.workerNodes().stream().mapToInt(WorkerNode.WorkerLoad::jobs).sum())
        .description("Jobs on every worker node, as they last reported").register(registry);
  }
}
