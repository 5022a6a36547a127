package dev.salient.server.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.apache.pekko.Done;
import org.apache.pekko.actor.AbstractExtensionId;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.Extension;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.Uri;
import org.apache.pekko.management.cluster.bootstrap.ClusterBootstrap;
import org.apache.pekko.management.javadsl.PekkoManagement;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Pekko Management on a node that forms its cluster by Cluster Bootstrap: the HTTP endpoint
 * with the health checks Kubernetes probes ({@code /alive}; {@code /ready}: member Up and this
 * node serving, its engines loaded) and the bootstrap routes other nodes ask for seed nodes,
 * and Cluster Bootstrap itself, which finds the other nodes by the configured discovery method
 * (Kubernetes API, or a fixed list in config) and joins them or forms the cluster.
 */
public final class Management {
  private static final Logger log = LoggerFactory.getLogger(Management.class);
  /** Where Pekko Management's HTTP endpoint is configured. */
  static final String HTTP = "pekko.management.http";
  /** How long binding the management port may take before start-up fails. */
  private static final long BIND_WITHIN_SECONDS = 30;

  private Management() {}

  /**
   * {@code base} with Pekko Management's advertised host set to the cluster host where it is
   * left at Pekko's default (this machine's name), so that the contact point other nodes probe
   * is the address discovery lists for this node.
   */
  public static Config config(Config base, ClusterSettings settings) {
    if (!base.getString(HTTP + ".hostname").equals("<hostname>")) {
      return base;
    }
    return ConfigFactory.empty()
        .withValue(HTTP + ".hostname", ConfigValueFactory.fromAnyRef(settings.host()))
        .withFallback(base);
  }

  /**
   * Starts the management endpoint and, with {@code salient.cluster.bootstrap} on, Cluster
   * Bootstrap; on shutdown {@code /ready} turns false before the drain, so Kubernetes sends no
   * new clients to a node that is leaving. {@code /ready} stays false until {@link #serving}.
   *
   * @throws IllegalStateException when the management port cannot be bound, naming it
   */
  public static void start(ActorSystem<?> system, ClusterSettings settings) {
    Config http = system.settings().config().getConfig(HTTP);
    Uri uri;
    try {
      uri = PekkoManagement.get(system).start().toCompletableFuture()
          .get(BIND_WITHIN_SECONDS, TimeUnit.SECONDS);
    } catch (Exception e) {
      Throwable cause = e instanceof java.util.concurrent.ExecutionException
          || e instanceof CompletionException ? e.getCause() : e;
      throw new IllegalStateException("cannot serve Pekko Management on "
          + bindHost(http) + ":" + bindPort(http) + " (" + cause + "); choose another "
          + HTTP + ".port (SALIENT_MANAGEMENT_PORT in the image)", cause);
    }
    log.info("Pekko Management at {} (health: /alive, /ready; cluster: /cluster/members)", uri);
    CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseBeforeServiceUnbind(),
        "salient-not-ready", () -> {
          ServingState.ID.get(system.classicSystem()).serving.set(false);
          return CompletableFuture.completedFuture(Done.getInstance());
        });
    if (settings.bootstrap()) {
      Config discovery = system.settings().config()
          .getConfig("pekko.management.cluster.bootstrap.contact-point-discovery");
      String method = discovery.getString("discovery-method");
      if (method.equals("pekko.discovery")) {
        method = system.settings().config().getString("pekko.discovery.method");
      }
      log.info("Cluster Bootstrap: finding {} or more nodes of service \"{}\" by {} discovery; "
          + "the node with the lowest address forms the cluster, the others join it",
          discovery.getInt("required-contact-point-nr"),
          discovery.getString("service-name").equals("<service-name>") ? system.name()
              : discovery.getString("service-name"), method);
      ClusterBootstrap.get(system).start();
    }
  }

  /** From now on {@code /ready} answers with the membership check alone: this node serves. */
  public static void serving(ActorSystem<?> system) {
    ServingState.ID.get(system.classicSystem()).serving.set(true);
  }

  private static String bindHost(Config http) {
    return http.getString("bind-hostname").isEmpty() ? http.getString("hostname")
        : http.getString("bind-hostname");
  }

  private static String bindPort(Config http) {
    return http.getString("bind-port").isEmpty() ? http.getString("port")
        : http.getString("bind-port");
  }

  /**
   * The readiness check {@code salient-serving} (reference.conf): true once the node's engines
   * are loaded and its services started, false again from the start of the shutdown.
   */
  public static final class ServingCheck implements Supplier<CompletionStage<Boolean>> {
    private final AtomicBoolean serving;

    /** Pekko Management builds the check with the node's actor system. */
    public ServingCheck(org.apache.pekko.actor.ActorSystem system) {
      this.serving = ServingState.ID.get(system).serving;
    }

    @Override
    public CompletionStage<Boolean> get() {
      return CompletableFuture.completedFuture(serving.get());
    }
  }

  /** Whether the node serves, one per actor system. */
  private static final class ServingState implements Extension {
    static final Id ID = new Id();
    final AtomicBoolean serving = new AtomicBoolean(false);

    static final class Id extends AbstractExtensionId<ServingState> {
      @Override
      public ServingState createExtension(ExtendedActorSystem system) {
        return new ServingState();
      }
    }
  }
}
