package dev.salient.server.cluster;

import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.method.MethodRegistry;
import dev.salient.server.util.SalientException;
import dev.salient.server.worker.EventSink;
import dev.salient.server.worker.ExplainOrder;
import dev.salient.server.worker.ExplainSupervisor;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.actor.typed.pubsub.Topic;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.Materializer;
import org.apache.pekko.stream.UniqueKillSwitch;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;

/**
 * The gateway's supervisor in a cluster: admits requests as the single-node supervisor does
 * (validated here, at the edge, once; at most {@code maxInFlight} in all and {@code
 * maxInFlightPerClient} per client) and places each on the least-loaded worker node that serves
 * its model, cluster-wide, from the load the worker nodes report plus what this gateway placed
 * since. An order for this node's own workers goes to its supervisor directly; one for another
 * node crosses as a {@link WorkerNode.RunOrder} and its events come back through a stream
 * reference. The frames of a video stream stay on one worker node while it lives.
 *
 * <p>When a worker node becomes unreachable, the requests placed on it end with UNAVAILABLE
 * naming the node, and no new ones go there until it is reachable again. It speaks the
 * supervisor's protocol ({@link ExplainSupervisor.Submit}, {@link ExplainSupervisor.Drain}), so
 * the gRPC layer does not know whether it talks to one node or to a cluster.
 */
public final class Gateway extends AbstractBehavior<Object> {
  /** How long a worker node has to answer an order before the request fails. */
  private static final Duration ORDER_REPLY_TIMEOUT = Duration.ofSeconds(10);
  /** How long a video stream's node is remembered after its last frame. */
  private static final Duration AFFINITY_IDLE = Duration.ofSeconds(60);

  private final ModelCatalog catalog;
  private final MethodRegistry methods;
  private final Optional<ActorRef<ExplainSupervisor.Command>> localSupervisor;
  private final String selfAddress;
  private final int maxInFlight;
  private final int maxInFlightPerClient;
  private final ClusterView view;
  private final TimerScheduler<Object> timers;
  private final Materializer materializer;
  /** The worker nodes known, by address, in the order first heard of. */
  private final Map<String, Node> nodes = new LinkedHashMap<>();
  private final Map<Long, PlacedJob> jobs = new HashMap<>();
  private final Map<String, Integer> inFlightByClient = new HashMap<>();
  private final Map<String, Affinity> affinities = new HashMap<>();
  private final List<ActorRef<Done>> drainWaiters = new ArrayList<>();
  private long nextJobId = 1;
  private boolean draining;
  private boolean drainPeriodOver;

  /** A worker node as this gateway sees it. */
  private static final class Node {
    final String address;
    ActorRef<WorkerNode.Command> ref;
    List<String> models;
    int reportedJobs;
    int placedSinceReport;
    boolean draining;
    boolean reachable = true;

    Node(String address, List<String> models) {
      this.address = address;
      this.models = models;
    }

    int load() {
      return reportedJobs + placedSinceReport;
    }
  }

  /** A request placed on a node; {@code killSwitch} is set once a remote one's events flow. */
  private static final class PlacedJob {
    final String node;
    final String client;
    final EventSink sink;
    UniqueKillSwitch killSwitch;

    PlacedJob(String node, String client, EventSink sink) {
      this.node = node;
      this.client = client;
      this.sink = sink;
    }

    boolean remote(String selfAddress) {
      return !node.equals(selfAddress);
    }
  }

  private record Affinity(String node, long lastUsedNanos) {}

  private record Load(WorkerNode.WorkerLoad load) {}

  private record Placed(long jobId, WorkerNode.OrderEvents events, Throwable failure) {}

  private record JobClosed(long jobId) {}

  private enum DrainPeriodOver { INSTANCE }

  private enum ForgetIdleAffinities { INSTANCE }

  private Gateway(ActorContext<Object> context, TimerScheduler<Object> timers,
      ModelCatalog catalog, MethodRegistry methods,
      Optional<ActorRef<ExplainSupervisor.Command>> localSupervisor, List<String> localModels,
      int maxInFlight, int maxInFlightPerClient, ClusterView view) {
    super(context);
    this.timers = timers;
    this.catalog = catalog;
    this.methods = methods;
    this.localSupervisor = localSupervisor;
    this.maxInFlight = maxInFlight;
    this.maxInFlightPerClient = maxInFlightPerClient;
    this.view = view;
    this.materializer = Materializer.createMaterializer(context);
    this.selfAddress = context.getSystem().address().toString();
    if (localSupervisor.isPresent()) {
      nodes.put(selfAddress, new Node(selfAddress, List.copyOf(localModels)));
    }
  }

  /**
   * A gateway admitting at most {@code maxInFlight} requests (and {@code maxInFlightPerClient}
   * of one client), placing them on this node's {@code localSupervisor} (serving {@code
   * localModels}; empty on a gateway-only node) or on the worker nodes that report on {@code
   * loadTopic}; it keeps {@code view} up to date for Stats.
   */
  public static Behavior<ExplainSupervisor.Command> create(ModelCatalog catalog,
      MethodRegistry methods, Optional<ActorRef<ExplainSupervisor.Command>> localSupervisor,
      List<String> localModels, int maxInFlight, int maxInFlightPerClient,
      ActorRef<Topic.Command<WorkerNode.WorkerLoad>> loadTopic, ClusterView view) {
    Behavior<Object> gateway = Behaviors.setup(ctx -> Behaviors.withTimers(timers -> {
      loadTopic.tell(Topic.subscribe(
          ctx.messageAdapter(WorkerNode.WorkerLoad.class, Load::new)));
      Cluster.get(ctx.getSystem()).subscriptions().tell(Subscribe.create(
          ctx.getSelf().narrow(), ClusterEvent.ReachabilityEvent.class));
      Cluster.get(ctx.getSystem()).subscriptions().tell(Subscribe.create(
          ctx.getSelf().narrow(), ClusterEvent.MemberRemoved.class));
      timers.startTimerWithFixedDelay(ForgetIdleAffinities.INSTANCE, AFFINITY_IDLE);
      return new Gateway(ctx, timers, catalog, methods, localSupervisor, localModels,
          maxInFlight, maxInFlightPerClient, view);
    }));
    return gateway.narrow();
  }

  @Override
  public Receive<Object> createReceive() {
    return newReceiveBuilder()
        .onMessage(ExplainSupervisor.Submit.class, this::onSubmit)
        .onMessage(Placed.class, this::onPlaced)
        .onMessage(JobClosed.class, this::onJobClosed)
        .onMessage(Load.class, this::onLoad)
        .onMessage(ClusterEvent.UnreachableMember.class,
            e -> onUnreachable(e.member().address().toString(), "became unreachable"))
        .onMessage(ClusterEvent.MemberRemoved.class,
            e -> onUnreachable(e.member().address().toString(), "left the cluster"))
        .onMessage(ClusterEvent.ReachableMember.class, this::onReachable)
        .onMessage(ExplainSupervisor.Drain.class, this::onDrain)
        .onMessageEquals(DrainPeriodOver.INSTANCE, this::onDrainPeriodOver)
        .onMessageEquals(ForgetIdleAffinities.INSTANCE, this::onForgetIdleAffinities)
        .build();
  }

  private Behavior<Object> onSubmit(ExplainSupervisor.Submit submit) {
    ExplainOrder order = submit.order();
    EventSink sink = submit.sink();
    if (drainPeriodOver || (draining && !submit.continuesStream())) {
      sink.fail(new SalientException.ShuttingDown(submit.continuesStream()
          ? SalientException.ShuttingDown.CUT_OFF : SalientException.ShuttingDown.REFUSED));
      return this;
    }
    Node node;
    try {
      validate(order);
      if (jobs.size() >= maxInFlight) {
        throw new SalientException.CapacityExceeded("the gateway is busy: " + jobs.size()
            + " requests in flight (limit " + maxInFlight + "); retry with backoff, or raise "
            + "salient.scheduler.max-in-flight");
      }
      int ofClient = inFlightByClient.getOrDefault(order.client(), 0);
      if (ofClient >= maxInFlightPerClient) {
        throw new SalientException.CapacityExceeded("client " + order.client() + " has "
            + ofClient + " requests in flight (limit " + maxInFlightPerClient + " per client); "
            + "wait for one to finish, or raise salient.scheduler.max-in-flight-per-client");
      }
      node = choose(order.model(), submit.affinity());
    } catch (SalientException e) {
      getContext().getLog().debug("request {} refused: {}", order.requestId(), e.getMessage());
      sink.fail(e);
      return this;
    }
    long jobId = nextJobId++;
    jobs.put(jobId, new PlacedJob(node.address, order.client(), sink));
    inFlightByClient.merge(order.client(), 1, Integer::sum);
    node.placedSinceReport++;
    getContext().pipeToSelf(sink.whenClosed(), (done, error) -> new JobClosed(jobId));
    if (node.address.equals(selfAddress)) {
      localSupervisor.orElseThrow().tell(new ExplainSupervisor.Submit(order, sink,
          submit.continuesStream(), submit.affinity()));
    } else {
      long remaining = order.deadlineNanos() == Long.MAX_VALUE ? Long.MAX_VALUE
          : Math.max(0, order.deadlineNanos() - System.nanoTime());
      getContext().ask(WorkerNode.OrderEvents.class, node.ref, ORDER_REPLY_TIMEOUT,
          replyTo -> new WorkerNode.RunOrder(order, remaining, submit.continuesStream(),
              replyTo),
          (events, failure) -> new Placed(jobId, events, failure));
    }
    return this;
  }

  /** Checks what needs no model work, so a bad request never crosses the network. */
  private void validate(ExplainOrder order) {
    ModelPackage model = catalog.require(order.model());
    if (!order.classifyOnly()) {
      methods.lookup(order.method(), model).prepare(order.parameters());
    }
    order.target().validate(model);
  }

  /**
   * The node for an order of {@code model}: the node of its video stream while that one can
   * take it, else the least loaded of those that serve the model.
   */
  private Node choose(String model, String affinity) {
    if (affinity != null) {
      Affinity known = affinities.get(affinity);
      Node node = known == null ? null : nodes.get(known.node());
      if (node != null && eligible(node, model)) {
        affinities.put(affinity, new Affinity(node.address, System.nanoTime()));
        return node;
      }
    }
    Node node = nodes.values().stream().filter(n -> eligible(n, model))
        .min(Comparator.comparingInt(Node::load)).orElseThrow(() ->
            new SalientException.Unavailable("no worker node that serves model " + model
                + " is reachable now (worker nodes: " + describeNodes() + "); retry, or start "
                + "a worker node with that model"));
    if (affinity != null) {
      affinities.put(affinity, new Affinity(node.address, System.nanoTime()));
    }
    return node;
  }

  private static boolean eligible(Node node, String model) {
    return node.reachable && !node.draining && node.models.contains(model);
  }

  private String describeNodes() {
    if (nodes.isEmpty()) {
      return "none has reported yet";
    }
    List<String> described = new ArrayList<>();
    for (Node n : nodes.values()) {
      described.add(n.address + (n.reachable ? "" : " unreachable")
          + (n.draining ? " draining" : "") + " " + n.models);
    }
    return String.join(", ", described);
  }

  private Behavior<Object> onPlaced(Placed placed) {
    PlacedJob job = jobs.get(placed.jobId());
    if (job == null) {
      return this;
    }
    if (placed.failure() != null) {
      job.sink.fail(new SalientException.Unavailable("worker node " + job.node + " did not "
          + "take the request within " + ORDER_REPLY_TIMEOUT.toSeconds() + " s; retry"));
      return this;
    }
    Pair<UniqueKillSwitch, CompletionStage<Done>> running = placed.events().events().getSource()
        .viaMat(KillSwitches.single(), Keep.right())
        .mapAsync(1, delivery -> deliver(delivery, job))
        .takeWhile(more -> more)
        .toMat(Sink.ignore(), Keep.both())
        .run(materializer);
    job.killSwitch = running.first();
    running.second().whenComplete((done, error) -> {
      if (error == null) {
        job.sink.complete();
      } else {
        job.sink.fail(error instanceof SalientException ? error
            : new SalientException.Unavailable("lost the events of worker node " + job.node
                + " (" + error.getMessage() + "); retry"));
      }
    });
    return this;
  }

  /** Hands one delivery to the client's stream; false when the order is over. */
  private static CompletionStage<Boolean> deliver(WorkerNode.Delivery delivery, PlacedJob job) {
    if (delivery.event() != null) {
      return job.sink.offer(delivery.event());
    }
    job.sink.fail(delivery.toException(job.node));
    return CompletableFuture.completedFuture(false);
  }

  private Behavior<Object> onJobClosed(JobClosed closed) {
    PlacedJob job = jobs.remove(closed.jobId());
    if (job != null) {
      if (job.killSwitch != null) {
        job.killSwitch.shutdown();
      }
      inFlightByClient.computeIfPresent(job.client, (c, n) -> n > 1 ? n - 1 : null);
      replyIfDrained();
    }
    return this;
  }

  private Behavior<Object> onLoad(Load report) {
    WorkerNode.WorkerLoad load = report.load();
    if (!isUpMember(load.address())) {
      // A late report of a node that has left, or one of a node not yet Up.
      return this;
    }
    Node node = nodes.computeIfAbsent(load.address(), address -> {
      getContext().getLog().info("worker node {} serves {} on workers {}", address,
          load.models(), load.workers().stream().map(w -> w.name()).toList());
      return new Node(address, load.models());
    });
    node.ref = load.node();
    node.models = load.models();
    node.reportedJobs = load.jobs();
    node.placedSinceReport = 0;
    if (load.draining() && !node.draining) {
      getContext().getLog().info("worker node {} is draining: no new requests go there",
          load.address());
    }
    node.draining = load.draining();
    view.report(load);
    return this;
  }

  private boolean isUpMember(String address) {
    for (org.apache.pekko.cluster.Member m
        : Cluster.get(getContext().getSystem()).state().getMembers()) {
      if (m.address().toString().equals(address)) {
        return m.status() == org.apache.pekko.cluster.MemberStatus.up()
            || m.status() == org.apache.pekko.cluster.MemberStatus.weaklyUp();
      }
    }
    return false;
  }

  private Behavior<Object> onUnreachable(String address, String what) {
    Node node = nodes.get(address);
    if (address.equals(selfAddress) || node == null) {
      return this;
    }
    if (what.equals("left the cluster")) {
      nodes.remove(address);
      view.forget(address);
    } else {
      node.reachable = false;
    }
    int ended = 0;
    for (PlacedJob job : jobs.values()) {
      if (job.node.equals(address)) {
        SalientException lost = new SalientException.Unavailable("worker node " + address + " "
            + what + " while running this request; retry (other nodes take new requests)");
        if (job.killSwitch != null) {
          job.killSwitch.abort(lost);
        } else {
          job.sink.fail(lost);
        }
        ended++;
      }
    }
    if (ended > 0) {
      getContext().getLog().warn("worker node {} {}: ended its {} requests with UNAVAILABLE",
          address, what, ended);
    }
    return this;
  }

  private Behavior<Object> onReachable(ClusterEvent.ReachableMember event) {
    Node node = nodes.get(event.member().address().toString());
    if (node != null) {
      node.reachable = true;
    }
    return this;
  }

  private Behavior<Object> onDrain(ExplainSupervisor.Drain drain) {
    if (!draining) {
      draining = true;
      getContext().getLog().info("gateway draining: refusing new requests; {} running get {} ms",
          jobs.size(), drain.period().toMillis());
      timers.startSingleTimer(DrainPeriodOver.INSTANCE, drain.period());
    }
    drainWaiters.add(drain.replyTo());
    replyIfDrained();
    return this;
  }

  /** Ends the requests still running on other nodes; this node's supervisor ends its own. */
  private Behavior<Object> onDrainPeriodOver() {
    drainPeriodOver = true;
    for (PlacedJob job : jobs.values()) {
      if (job.remote(selfAddress)) {
        SalientException cutOff =
            new SalientException.ShuttingDown(SalientException.ShuttingDown.CUT_OFF);
        if (job.killSwitch != null) {
          job.killSwitch.abort(cutOff);
        } else {
          job.sink.fail(cutOff);
        }
      }
    }
    return this;
  }

  private void replyIfDrained() {
    if (draining && jobs.isEmpty()) {
      drainWaiters.forEach(w -> w.tell(Done.getInstance()));
      drainWaiters.clear();
    }
  }

  private Behavior<Object> onForgetIdleAffinities() {
    long now = System.nanoTime();
    for (Iterator<Affinity> it = affinities.values().iterator(); it.hasNext(); ) {
      if (now - it.next().lastUsedNanos() > AFFINITY_IDLE.toNanos()) {
        it.remove();
      }
    }
    return this;
  }
}
