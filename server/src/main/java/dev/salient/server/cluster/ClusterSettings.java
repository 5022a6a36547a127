package dev.salient.server.cluster;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.List;
import java.util.Set;

/**
 * How a node takes part in the cluster ({@code salient.cluster}).
 *
 * @param host the address other nodes reach this one at
 * @param port the cluster (Artery) port; 0 picks a free one, which only a node that no other
 *     node needs to find (a one-node cluster, a joining node) may do
 * @param roles {@link #GATEWAY} (serves gRPC, places requests) and/or {@link #WORKER} (owns
 *     devices and runs requests)
 * @param seedNodes the {@code host:port} of the nodes to join; empty: join itself, or bootstrap
 * @param bootstrap form the cluster with Pekko Management's Cluster Bootstrap instead of seeds
 * @param loadReportInterval how often a worker node tells the gateways its load
 */
public record ClusterSettings(String host, int port, Set<String> roles, List<String> seedNodes,
    boolean bootstrap, Duration loadReportInterval) {

  /** The role of a node that serves gRPC and places requests. */
  public static final String GATEWAY = "gateway";
  /** The role of a node that owns devices and runs requests. */
  public static final String WORKER = "worker";
  /** The name of the actor system on every node: nodes of differently named systems never meet. */
  public static final String SYSTEM_NAME = "salient";

  /** Checks the roles and seeds. */
  public ClusterSettings {
    roles = Set.copyOf(roles);
    seedNodes = List.copyOf(seedNodes);
    if (roles.isEmpty() || !Set.of(GATEWAY, WORKER).containsAll(roles)) {
      throw new IllegalArgumentException("salient.cluster.roles is " + roles + "; give "
          + GATEWAY + ", " + WORKER + " or both");
    }
    for (String seed : seedNodes) {
      hostAndPort(seed);
    }
    if (bootstrap && !seedNodes.isEmpty()) {
      throw new IllegalArgumentException("salient.cluster.seed-nodes and "
          + "salient.cluster.bootstrap are both set; a node joins by one of them");
    }
  }

  /** Reads {@code salient.cluster}; an empty host is {@code salient.host}. */
  public static ClusterSettings from(Config config) {
    Config c = config.getConfig("salient.cluster");
    String host = c.getString("host").isBlank() ? config.getString("salient.host")
        : c.getString("host");
    return new ClusterSettings(host, c.getInt("port"), Set.copyOf(c.getStringList("roles")),
        c.getStringList("seed-nodes"), c.getBoolean("bootstrap"),
        c.getDuration("load-report-interval"));
  }

  /** Whether this node serves gRPC and places requests. */
  public boolean gateway() {
    return roles.contains(GATEWAY);
  }

  /** Whether this node owns devices and runs requests. */
  public boolean worker() {
    return roles.contains(WORKER);
  }

  /** Splits {@code host:port}, checking both. */
  static Object[] hostAndPort(String seed) {
    int colon = seed.lastIndexOf(':');
    if (colon <= 0 || colon == seed.length() - 1) {
      throw new IllegalArgumentException("seed node \"" + seed + "\" is not host:port");
    }
    try {
      int port = Integer.parseInt(seed.substring(colon + 1));
      if (port <= 0 || port > 65535) {
        throw new NumberFormatException();
      }
      return new Object[] {seed.substring(0, colon), port};
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("seed node \"" + seed + "\" has no valid port");
    }
  }
}
