package dev.salient.server.cluster;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.JoinSeedNodes;
import org.apache.pekko.cluster.typed.Subscribe;
import org.apache.pekko.cluster.typed.Join;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's place in the cluster: the Pekko configuration that makes an actor system a cluster
 * node, how it joins, and the one log line per membership change an operator reads.
 */
public final class ClusterNode {
  private static final Logger log = LoggerFactory.getLogger(ClusterNode.class);

  private ClusterNode() {}

  /**
   * {@code base} with what makes an actor system a node of the cluster {@code settings}
   * describe: the cluster provider, Artery TCP on the node's host and port, its roles, and the
   * module that (de)serializes explanation events between nodes.
   */
  public static Config config(Config base, ClusterSettings settings) {
    List<String> modules = new ArrayList<>(
        base.getStringList("pekko.serialization.jackson.jackson-modules"));
    if (!modules.contains(EventsJacksonModule.class.getName())) {
      modules.add(EventsJacksonModule.class.getName());
    }
    return ConfigFactory.empty()
        .withValue("pekko.actor.provider", ConfigValueFactory.fromAnyRef("cluster"))
        .withValue("pekko.remote.artery.canonical.hostname",
            ConfigValueFactory.fromAnyRef(settings.host()))
        .withValue("pekko.remote.artery.canonical.port",
            ConfigValueFactory.fromAnyRef(settings.port()))
        .withValue("pekko.cluster.roles",
            ConfigValueFactory.fromIterable(settings.roles().stream().sorted().toList()))
        .withValue("pekko.serialization.jackson.jackson-modules",
            ConfigValueFactory.fromIterable(modules))
        .withFallback(base);
  }

  /**
   * Joins the cluster: the seed nodes when there are some, else (without bootstrap, which joins
   * by itself once Pekko Management has found the other nodes) this node itself, which makes a
   * one-node cluster that others may join later. Logs every membership change from now on.
   */
  public static void join(ActorSystem<?> system, ClusterSettings settings) {
    Cluster cluster = Cluster.get(system);
    system.systemActorOf(membershipLog(), "salient-membership-log", Props.empty());
    if (!settings.seedNodes().isEmpty()) {
      List<Address> seeds = settings.seedNodes().stream().map(seed -> {
        Object[] hp = ClusterSettings.hostAndPort(seed);
        return new Address("pekko", system.name(), (String) hp[0], (Integer) hp[1]);
      }).toList();
      log.info("cluster node {} ({}) joining seed nodes {}", cluster.selfMember().address(),
          settings.roles(), seeds);
      cluster.manager().tell(new JoinSeedNodes(seeds));
    } else if (!settings.bootstrap()) {
      log.info("cluster node {} ({}) forms a cluster of its own; other nodes join it with "
          + "--seed-nodes {}:{}", cluster.selfMember().address(), settings.roles(),
          settings.host(), cluster.selfMember().address().getPort().orElse(0));
      cluster.manager().tell(Join.create(cluster.selfMember().address()));
    } else {
      log.info("cluster node {} ({}) waits for Cluster Bootstrap to find the other nodes",
          cluster.selfMember().address(), settings.roles());
    }
  }

  /** Logs each membership and reachability change once, at INFO (WARN for unreachable). */
  private static Behavior<ClusterEvent.ClusterDomainEvent> membershipLog() {
    return Behaviors.setup(ctx -> {
      Cluster.get(ctx.getSystem()).subscriptions().tell(Subscribe.create(ctx.getSelf(),
          ClusterEvent.ClusterDomainEvent.class));
      return Behaviors.receive(ClusterEvent.ClusterDomainEvent.class)
          .onMessage(ClusterEvent.MemberUp.class, e -> logged("member up: {} {}", e.member()))
          .onMessage(ClusterEvent.MemberJoined.class,
              e -> logged("member joining: {} {}", e.member()))
          .onMessage(ClusterEvent.MemberLeft.class, e -> logged("member leaving: {} {}", e.member()))
          .onMessage(ClusterEvent.MemberExited.class,
              e -> logged("member exited: {} {}", e.member()))
          .onMessage(ClusterEvent.MemberDowned.class,
              e -> logged("member downed: {} {}", e.member()))
          .onMessage(ClusterEvent.MemberRemoved.class,
              e -> logged("member removed: {} {}", e.member()))
          .onMessage(ClusterEvent.UnreachableMember.class, e -> {
            log.warn("member unreachable: {} {}; its requests end with UNAVAILABLE, and the "
                + "Split Brain Resolver downs it if it stays so", e.member().address(),
                e.member().getRoles());
            return Behaviors.same();
          })
          .onMessage(ClusterEvent.ReachableMember.class,
              e -> logged("member reachable again: {} {}", e.member()))
          .onAnyMessage(e -> Behaviors.same())
          .build();
    });
  }

  private static Behavior<ClusterEvent.ClusterDomainEvent> logged(String format,
      org.apache.pekko.cluster.Member member) {
    log.info(format, member.address(), member.getRoles());
    return Behaviors.same();
  }
}
