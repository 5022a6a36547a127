package dev.salient.server.grpc;

import dev.salient.grpc.ClassifyRequest;
import dev.salient.grpc.ClassifyResponse;
import dev.salient.grpc.DescribeModelRequest;
import dev.salient.grpc.DescribeModelResponse;
import dev.salient.grpc.ExplainEvent;
import dev.salient.grpc.Explainer;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.ExplainerPowerApi;
import dev.salient.grpc.FrameExplanation;
import dev.salient.grpc.Image;
import dev.salient.grpc.ListModelsRequest;
import dev.salient.grpc.ListModelsResponse;
import dev.salient.grpc.StatsRequest;
import dev.salient.grpc.StatsResponse;
import dev.salient.grpc.VideoFrame;
import dev.salient.server.cluster.ClusterView;
import dev.salient.server.engine.DecodeBudget;
import dev.salient.server.engine.ImageDecoder;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.method.MethodRegistry;
import dev.salient.server.util.SalientException;
import dev.salient.server.video.VideoInput;
import dev.salient.server.video.VideoSession;
import dev.salient.server.video.VideoSessions;
import dev.salient.server.video.VideoSettings;
import dev.salient.server.worker.ExplainOrder;
import dev.salient.server.worker.ExplainSupervisor;
import dev.salient.server.worker.QueueEventSink;
import dev.salient.server.worker.SchedulerMetrics;
import dev.salient.server.worker.TargetSpec;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.grpc.javadsl.Metadata;
import org.apache.pekko.stream.CompletionStrategy;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.typed.javadsl.ActorSource;

/**
 * The salient.v1.Explainer service: validates requests, decodes images off the handler threads,
 * hands orders to the {@link ExplainSupervisor} and streams the events back. Stateless.
 */
public final class ExplainerService implements ExplainerPowerApi {
  private static final int MAX_TOP_K = 1000;
  private static final int MAX_FRAME_STRIDE = 1_000_000;
  private static final Duration OPEN_TIMEOUT = Duration.ofSeconds(10);

  private final ModelCatalog catalog;
  private final MethodRegistry methods;
  private final ActorRef<ExplainSupervisor.Command> supervisor;
  private final ActorRef<VideoSessions.Command> videoSessions;
  private final SchedulerMetrics metrics;
  private final ActorSystem<?> system;
  private final Executor decoder;
  private final int streamBuffer;
  private final int videoMaxInFlight;
  private final DecodeBudget decodeBudget;
  private final AccessLog accessLog;
  private final Optional<ClusterView> cluster;

  /**
   * A service over {@code supervisor}, whose video streams are sessions of {@code videoSessions};
   * images are decoded on {@code decoder} within {@code decodeBudget} and each response
   * stream buffers at most {@code streamBuffer} events before the job waits for its client; a
   * video session explains at most {@code videoMaxInFlight} frames at once; finished calls go
   * to {@code accessLog}.
   */
  public ExplainerService(ModelCatalog catalog, MethodRegistry methods,
      ActorRef<ExplainSupervisor.Command> supervisor,
      ActorRef<VideoSessions.Command> videoSessions, SchedulerMetrics metrics,
      ActorSystem<?> system, Executor decoder, int streamBuffer, int videoMaxInFlight,
      DecodeBudget decodeBudget, AccessLog accessLog) {
    this(catalog, methods, supervisor, videoSessions, metrics, system, decoder, streamBuffer,
        videoMaxInFlight, decodeBudget, accessLog, Optional.empty());
  }

  /** The service of a cluster's gateway, whose Stats include {@code cluster}. */
  public ExplainerService(ModelCatalog catalog, MethodRegistry methods,
      ActorRef<ExplainSupervisor.Command> supervisor,
      ActorRef<VideoSessions.Command> videoSessions, SchedulerMetrics metrics,
      ActorSystem<?> system, Executor decoder, int streamBuffer, int videoMaxInFlight,
      DecodeBudget decodeBudget, AccessLog accessLog, Optional<ClusterView> cluster) {
    this.cluster = cluster;
    this.accessLog = accessLog;
    this.catalog = catalog;
    this.metrics = metrics;
    this.methods = methods;
    this.supervisor = supervisor;
    this.videoSessions = videoSessions;
    this.system = system;
    this.decoder = decoder;
    this.streamBuffer = streamBuffer;
    this.videoMaxInFlight = videoMaxInFlight;
    this.decodeBudget = decodeBudget;
  }

  private StatsResponse stats() {
    StatsResponse local = ProtoMapping.stats(metrics.snapshot());
    return cluster.map(view -> local.toBuilder().setCluster(ProtoMapping.cluster(view)).build())
        .orElse(local);
  }

  @Override
  public CompletionStage<ListModelsResponse> listModels(ListModelsRequest in, Metadata metadata) {
    ListModelsResponse.Builder out = ListModelsResponse.newBuilder();
    for (ModelPackage m : catalog.all()) {
      out.addModels(ProtoMapping.modelInfo(m, methods.supportedBy(m), m == catalog.defaultModel()));
    }
    return accessLog.unary(Explainer.name + "/ListModels", null, null, Caller.of(metadata),
        CompletableFuture.completedFuture(out.build()));
  }

  @Override
  public CompletionStage<DescribeModelResponse> describeModel(DescribeModelRequest in, Metadata metadata) {
    Caller caller = Caller.of(metadata);
    CompletionStage<DescribeModelResponse> answer;
    try {
      ModelPackage m = model(in.getModel(), caller);
      answer = CompletableFuture.completedFuture(DescribeModelResponse.newBuilder()
          .setModel(ProtoMapping.modelInfo(m, methods.supportedBy(m),
              m == catalog.defaultModel()))
          .build());
    } catch (SalientException e) {
      answer = CompletableFuture.failedFuture(e);
    }
    return accessLog.unary(Explainer.name + "/DescribeModel", logged(in.getModel()), null, caller,
        answer);
  }

  @Override
  public CompletionStage<ClassifyResponse> classify(ClassifyRequest in, Metadata metadata) {
    return accessLog.unary(Explainer.name + "/Classify", logged(in.getModel()), null,
        Caller.of(metadata), classifyUnlogged(in, metadata));
  }

  /** Classify without its access-log line, for a service that logs its own calls. */
  CompletionStage<ClassifyResponse> classifyUnlogged(ClassifyRequest in, Metadata metadata) {
    CompletionStage<ExplainOrder> order = order(in.getModel(), in.hasImage(), in.getImage(), null,
        Map.of(), new TargetSpec.Predicted(), in.getTopK(), 0, false, false,
        GrpcTimeout.deadlineNanos(metadata), Caller.of(metadata), false);
    return classified(order);
  }

  private CompletionStage<ClassifyResponse> classified(CompletionStage<ExplainOrder> order) {
    return submit(order)
        .runWith(Sink.head(), system)
        .thenApply(event -> {
          var started = (dev.salient.server.explanation.ExplainEvent.Started) event;
          ClassifyResponse.Builder out = ClassifyResponse.newBuilder().setModel(started.model());
          started.top().forEach(c -> out.addTop(ProtoMapping.score(c)));
          return out.build();
        });
  }

  @Override
  public Source<ExplainEvent, NotUsed> explain(ExplainRequest in, Metadata metadata) {
    Caller caller = Caller.of(metadata);
    CompletionStage<ExplainOrder> order = order(in.getModel(), in.hasImage(), in.getImage(),
        in.getMethod(), in.getParamsMap(), ProtoMapping.target(in.hasTarget(), in.getTarget()),
        in.getTopK(), in.getFrameStride(), in.getFrameTensors(), in.getRenderPng(),
        GrpcTimeout.deadlineNanos(metadata), caller, in.getDeterministic())
        .thenApply(o -> o.withPriority(in.getPriority()));
    boolean withSnapshots = !in.getOmitSnapshots();
    return accessLog.stream(Explainer.name + "/Explain", logged(in.getModel()), in.getMethod(), caller,
        submit(order).map(e -> ProtoMapping.event(e, withSnapshots)));
  }

  @Override
  public CompletionStage<StatsResponse> stats(StatsRequest in, Metadata metadata) {
    return accessLog.unary(Explainer.name + "/Stats", null, null, Caller.of(metadata),
        CompletableFuture.completedFuture(stats()));
  }

  /**
   * Opens a video session from the first message, then streams its frames to the session actor
   * and its answers back; the session does the ordering, dropping and smoothing.
   */
  @Override
  public Source<FrameExplanation, NotUsed> explainVideo(Source<VideoFrame, NotUsed> in,
      Metadata metadata) {
    long deadlineNanos = GrpcTimeout.deadlineNanos(metadata);
    Caller caller = Caller.of(metadata);
    return accessLog.stream(Explainer.name + "/ExplainVideo", null, null, caller,
        video(in, deadlineNanos, caller));
  }

  private Source<FrameExplanation, NotUsed> video(Source<VideoFrame, NotUsed> in,
      long deadlineNanos, Caller caller) {
    return in.prefixAndTail(1).flatMapConcat(split -> {
      if (split.first().isEmpty()) {
        return Source.<FrameExplanation>empty();
      }
      VideoFrame first = split.first().get(0);
      VideoSettings settings = videoSettings(first, caller);
      Source<VideoFrame, NotUsed> frames = first.hasImage()
          ? Source.single(first.toBuilder().clearSession().build()).concat(split.second())
          : split.second();
      Source<VideoInput, NotUsed> inputs = frames.map(f -> videoInput(f, settings.model()));
      CompletionStage<ActorRef<VideoSession.Command>> session = AskPattern.ask(videoSessions,
          reply -> new VideoSessions.Open(settings, decoder, deadlineNanos, caller.name(),
              reply),
          OPEN_TIMEOUT, system.scheduler());
      return Source.completionStage(session).flatMapConcat(ref ->
          ActorSource.<VideoSession.Output, VideoSession.Command>actorRefWithBackpressure(ref,
                  VideoSession.OutputAck.INSTANCE,
                  o -> o instanceof VideoSession.End
                      ? Optional.of(CompletionStrategy.draining()) : Optional.empty(),
                  o -> o instanceof VideoSession.Failed f ? Optional.of(f.error())
                      : Optional.empty())
              .mapMaterializedValue(output -> {
                ref.tell(new VideoSession.Start(output, inputs));
                return NotUsed.getInstance();
              }))
          .map(o -> ProtoMapping.frameExplanation(((VideoSession.Answer) o).answer()));
    });
  }

  private VideoSettings videoSettings(VideoFrame first, Caller caller) {
    if (!first.hasSession()) {
      throw new SalientException.InvalidArgument("the first message of a video stream must carry "
          + "`session` (model, method, ...); it opens the session");
    }
    var session = first.getSession();
    ModelPackage model = model(session.getModel(), caller);
    return VideoSettings.validate(model, methods, session.getMethod(), session.getParamsMap(),
        ProtoMapping.target(session.hasTarget(), session.getTarget()), session.getMaxInFlight(),
        videoMaxInFlight, ProtoMapping.dropPolicy(session.getDropPolicy()),
        session.getSmoothing(),
        ProtoMapping.positiveOrDefault(session.getTopK(), 5, "top_k", MAX_TOP_K),
        session.getRenderPng());
  }

  private VideoInput videoInput(VideoFrame frame, ModelPackage model) {
    long received = System.nanoTime();
    if (frame.hasSession()) {
      throw new SalientException.InvalidArgument("frame " + frame.getSequence() + " carries "
          + "`session`: only the first message of a video stream may set it");
    }
    if (!frame.hasImage() || frame.getImage().getDataCase() == Image.DataCase.DATA_NOT_SET) {
      throw new SalientException.InvalidArgument("frame " + frame.getSequence() + " has no image: "
          + "set Image.encoded (PNG or JPEG bytes) or Image.tensor");
    }
    Image image = frame.getImage();
    return new VideoInput(frame.getSequence(), frame.getCaptureTimeUs(), received,
        () -> decode(image, model), image.getDataCase() == Image.DataCase.TENSOR);
  }

  /**
   * The response stream of {@code order}: once the order is decoded it goes to the supervisor
   * with the stream's sink; a bad order fails the stream, and an order whose client has already
   * gone is not submitted. One stream per request, without a nested stream for the order.
   */
  private Source<dev.salient.server.explanation.ExplainEvent, NotUsed> submit(
      CompletionStage<ExplainOrder> order) {
    return QueueEventSink.source(streamBuffer, sink -> order.whenComplete((ready, error) -> {
      if (error != null) {
        sink.fail(error);
      } else if (!sink.whenClosed().toCompletableFuture().isDone()) {
        supervisor.tell(new ExplainSupervisor.Submit(ready, sink));
      }
    }));
  }

  /** Validates the request fields and decodes the image on the decoder executor. */
  private CompletionStage<ExplainOrder> order(String modelName, boolean hasImage, Image image,
      String method, Map<String, String> params, TargetSpec target, int topK, int frameStride,
      boolean frameTensors, boolean renderPng, long deadlineNanos, Caller caller,
      boolean deterministic) {
    try {
      ModelPackage model = model(modelName, caller);
      if (method != null && method.isEmpty()) {
        throw new SalientException.InvalidArgument(
            "method is empty: name one of " + methods.supportedBy(model).stream()
                .map(m -> m.name()).toList());
      }
      if (!hasImage || image.getDataCase() == Image.DataCase.DATA_NOT_SET) {
        throw new SalientException.InvalidArgument(
            "image is missing: set Image.encoded (PNG or JPEG bytes) or Image.tensor");
      }
      int k = ProtoMapping.positiveOrDefault(topK, 5, "top_k", MAX_TOP_K);
      int stride = ProtoMapping.positiveOrDefault(frameStride, 1, "frame_stride",
          MAX_FRAME_STRIDE);
      String requestId = UUID.randomUUID().toString();
      return CompletableFuture.supplyAsync(() -> new ExplainOrder(requestId, model.name(),
          decode(image, model), method, params, target, Math.min(k, model.numClasses()), stride,
          frameTensors, renderPng, deadlineNanos, caller.name(), deterministic, 0, false), decoder);
    } catch (SalientException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /** The model name for the access log: the default model's for an empty one. */
  private String logged(String model) {
    return model.isEmpty() ? catalog.defaultModel().name() : model;
  }

  /** The model named {@code name} (empty: the default), if the caller may use it. */
  private ModelPackage model(String name, Caller caller) {
    ModelPackage model = catalog.require(name);
    caller.requireModel(model.name());
    return model;
  }

  /**
   * The image's model input. Runs on the decoder executor (a blocking dispatcher), where waiting
   * for the decode budget blocks no handler thread.
   */
  private float[] decode(Image image, ModelPackage model) {
    return switch (image.getDataCase()) {
      case ENCODED -> OutOfMemoryGuard.decoding("image", () -> ImageDecoder.decode(
          image.getEncoded().toByteArray(), model.input(), decodeBudget));
      case TENSOR -> OutOfMemoryGuard.decoding("tensor", () -> ImageDecoder.fromTensor(
          image.getTensor().getShapeList().stream().mapToLong(Long::longValue).toArray(),
          image.getTensor().getData().toByteArray(), model.input()));
      case DATA_NOT_SET -> throw new SalientException.InvalidArgument("image is missing");
    };
  }
}
