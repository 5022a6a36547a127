package dev.salient.client;

import dev.salient.grpc.ClassifyRequest;
import dev.salient.grpc.ClassifyResponse;
import dev.salient.grpc.DescribeModelRequest;
import dev.salient.grpc.DescribeModelResponse;
import dev.salient.grpc.ExplainEvent;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.ExplainerClient;
import dev.salient.grpc.ListModelsRequest;
import dev.salient.grpc.ListModelsResponse;
import dev.salient.grpc.FrameExplanation;
import dev.salient.grpc.Result;
import dev.salient.grpc.VideoFrame;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.ClassicActorSystemProvider;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.grpc.GrpcChannel;
import org.apache.pekko.grpc.GrpcClientSettings;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

/** A client of the Salient {@code Explainer} service: one method per RPC, optional deadlines. */
public final class SalientClient implements AutoCloseable {

  /**
   * The largest message this client takes from a server unless told otherwise: gRPC's maximum.
   * A result holds every map (and, for trajectories, every snapshot) at the model's input size,
   * megabytes at 224 x 224 and more for larger inputs; gRPC's default of 4 MiB would refuse them.
   */
  public static final int MAX_INBOUND_MESSAGE_BYTES = Integer.MAX_VALUE;

  /** How long {@link #close()} waits for the channel and an owned actor system to stop. */
  public static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(5);

  private final GrpcChannel channel;
  private final ClassicActorSystemProvider system;
  private final ActorSystem<Void> ownedSystem;
  private final ExplainerClient client;
  // One generated client per deadline: Pekko gRPC reads the deadline from the settings on each
  // call, and these clients share the channel, so they are cheap and need no closing.
  private final ConcurrentMap<Duration, ExplainerClient> deadlineClients =
      new ConcurrentHashMap<>();

  private SalientClient(
      GrpcClientSettings settings,
      ClassicActorSystemProvider system,
      ActorSystem<Void> ownedSystem) {
    this.system = system;
    this.ownedSystem = ownedSystem;
    this.channel = GrpcChannel.apply(settings, system);
    this.client = ExplainerClient.create(channel, system);
  }

  /** Connects in plaintext (HTTP/2 prior knowledge) with an actor system this client owns. */
  public static SalientClient connect(String host, int port) {
    ActorSystem<Void> owned = ActorSystem.create(Behaviors.empty(), "salient-client");
    try {
      return new SalientClient(plaintext(host, port, owned), owned, owned);
    } catch (RuntimeException e) {
      owned.terminate();
      throw e;
    }
  }

  /** Connects in plaintext on the caller's actor system; the caller terminates it. */
  public static SalientClient connect(String host, int port, ClassicActorSystemProvider system) {
    return create(plaintext(host, port, system), system);
  }

  /**
   * Connects with the given settings (TLS, deadline, ...) on the caller's actor system. Messages
   * from the server may be up to {@link #MAX_INBOUND_MESSAGE_BYTES} unless the settings' channel
   * builder overrides set a limit of their own.
   */
  public static SalientClient create(
      GrpcClientSettings settings, ClassicActorSystemProvider system) {
    return new SalientClient(
        withLargeMessages(Objects.requireNonNull(settings, "settings")),
        Objects.requireNonNull(system, "system"),
        null);
  }

  /**
   * {@code settings} that send {@code token} as {@code authorization: Bearer <token>} with every
   * call (a server with {@code salient.auth.tokens-file}); pass them to {@link #create}.
   */
  public static GrpcClientSettings withToken(GrpcClientSettings settings, String token) {
    return settings.withCallCredentials(new BearerToken(token));
  }

  private static GrpcClientSettings plaintext(
      String host, int port, ClassicActorSystemProvider system) {
    return withLargeMessages(
        GrpcClientSettings.connectToServiceAt(host, port, system).withTls(false));
  }

  /**
   * The settings with gRPC's 4 MiB receive limit raised to {@link #MAX_INBOUND_MESSAGE_BYTES},
   * applied before the settings' own channel builder overrides so that theirs win.
   */
  private static GrpcClientSettings withLargeMessages(GrpcClientSettings settings) {
    var own = settings.channelBuilderOverrides();
    return settings.withChannelBuilderOverrides(
        builder -> own.apply(builder.maxInboundMessageSize(MAX_INBOUND_MESSAGE_BYTES)));
  }

  /** Lists the models the server serves, default first. */
  public CompletionStage<ListModelsResponse> listModels() {
    return client.listModels(ListModelsRequest.getDefaultInstance());
  }

  /** Lists the models the server serves, failing with DEADLINE_EXCEEDED after {@code deadline}. */
  public CompletionStage<ListModelsResponse> listModels(Duration deadline) {
    return withDeadline(deadline).listModels(ListModelsRequest.getDefaultInstance());
  }

  /** Describes one model (empty name: the default model). */
  public CompletionStage<DescribeModelResponse> describeModel(DescribeModelRequest request) {
    return client.describeModel(request);
  }

  /** Describes one model, failing with DEADLINE_EXCEEDED after {@code deadline}. */
  public CompletionStage<DescribeModelResponse> describeModel(
      DescribeModelRequest request, Duration deadline) {
    return withDeadline(deadline).describeModel(request);
  }

  /** The server's request counters and per-worker batching statistics. */
  public CompletionStage<dev.salient.grpc.StatsResponse> stats() {
    return client.stats(dev.salient.grpc.StatsRequest.getDefaultInstance());
  }

  /** Classifies one image. */
  public CompletionStage<ClassifyResponse> classify(ClassifyRequest request) {
    return client.classify(request);
  }

  /** Classifies one image, failing with DEADLINE_EXCEEDED after {@code deadline}. */
  public CompletionStage<ClassifyResponse> classify(ClassifyRequest request, Duration deadline) {
    return withDeadline(deadline).classify(request);
  }

  /** The event stream of one explanation; nothing is sent until the source is run. */
  public Source<ExplainEvent, NotUsed> explain(ExplainRequest request) {
    return client.explain(request);
  }

  /** The event stream of one explanation, ended with DEADLINE_EXCEEDED after {@code deadline}. */
  public Source<ExplainEvent, NotUsed> explain(ExplainRequest request, Duration deadline) {
    return withDeadline(deadline).explain(request);
  }

  /**
   * The answers of one live-video stream, one per frame in sequence order; the first frame must
   * carry the session. Nothing is sent until the source is run; cancelling it cancels the call.
   */
  public Source<FrameExplanation, NotUsed> explainVideo(Source<VideoFrame, ?> frames) {
    return client.explainVideo(frames.mapMaterializedValue(m -> NotUsed.getInstance()));
  }

  /** The answers of one live-video stream, ended with DEADLINE_EXCEEDED after {@code deadline}. */
  public Source<FrameExplanation, NotUsed> explainVideo(
      Source<VideoFrame, ?> frames, Duration deadline) {
    return withDeadline(deadline)
        .explainVideo(frames.mapMaterializedValue(m -> NotUsed.getInstance()));
  }

  /**
   * Runs one explanation, calling {@code listener} per event; completes with the result, or fails
   * with the call's status (INTERNAL if the stream ends without a result).
   */
  public CompletionStage<Result> explain(ExplainRequest request, ExplainListener listener) {
    return run(explain(request), listener);
  }

  /** Runs one explanation with a deadline, calling {@code listener} per event. */
  public CompletionStage<Result> explain(
      ExplainRequest request, Duration deadline, ExplainListener listener) {
    return run(explain(request, deadline), listener);
  }

  private CompletionStage<Result> run(
      Source<ExplainEvent, NotUsed> events, ExplainListener listener) {
    Objects.requireNonNull(listener, "listener");
    AtomicReference<Result> result = new AtomicReference<>();
    // A listener that throws fails the stream, which cancels the call on the server.
    return events
        .runWith(
            Sink.foreach(
                event -> {
                  if (event.hasResult()) {
                    result.set(event.getResult());
                  }
                  listener.onEvent(event);
                }),
            system)
        .thenApply(
            done -> {
              Result last = result.get();
              if (last == null) {
                // A broken contract, reported like grpc-java reports a unary call with no reply.
                throw new StatusRuntimeException(
                    Status.INTERNAL.withDescription(
                        "the explain stream ended without a result event"));
              }
              return last;
            });
  }

  private ExplainerClient withDeadline(Duration deadline) {
    Objects.requireNonNull(deadline, "deadline");
    if (deadline.isNegative() || deadline.isZero()) {
      throw new IllegalArgumentException("deadline must be positive, got " + deadline);
    }
    return deadlineClients.computeIfAbsent(
        deadline,
        d ->
            ExplainerClient.create(
                new GrpcChannel(
                    channel.settings().withDeadline(d), channel.internalChannel(), system),
                system));
  }

  /** Closes the channel and, when this client owns it, terminates the actor system. */
  @Override
  public void close() {
    try {
      await(channel.closeCS());
    } finally {
      if (ownedSystem != null) {
        ownedSystem.terminate();
        await(ownedSystem.getWhenTerminated());
      }
    }
  }

  private static void await(CompletionStage<?> stage) {
    try {
      stage.toCompletableFuture().get(CLOSE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      // Closing is best effort: the caller is leaving and has nothing to do with a failure here.
    }
  }
}
