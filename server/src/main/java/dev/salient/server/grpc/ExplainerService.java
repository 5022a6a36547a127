package dev.salient.server.grpc;

import dev.salient.grpc.ClassifyRequest;
import dev.salient.grpc.ClassifyResponse;
import dev.salient.grpc.DescribeModelRequest;
import dev.salient.grpc.DescribeModelResponse;
import dev.salient.grpc.ExplainEvent;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.ExplainerPowerApi;
import dev.salient.grpc.Image;
import dev.salient.grpc.ListModelsRequest;
import dev.salient.grpc.ListModelsResponse;
import dev.salient.grpc.StatsRequest;
import dev.salient.grpc.StatsResponse;
import dev.salient.server.engine.ImageDecoder;
import dev.salient.server.engine.ModelCatalog;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.method.MethodRegistry;
import dev.salient.server.util.SalientException;
import dev.salient.server.worker.ExplainOrder;
import dev.salient.server.worker.ExplainSupervisor;
import dev.salient.server.worker.QueueEventSink;
import dev.salient.server.worker.SchedulerMetrics;
import dev.salient.server.worker.TargetSpec;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.grpc.javadsl.Metadata;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;

/**
 * The salient.v1.Explainer service: validates requests, decodes images off the handler threads,
 * hands orders to the {@link ExplainSupervisor} and streams the events back. Stateless.
 */
public final class ExplainerService implements ExplainerPowerApi {
  private static final int MAX_TOP_K = 1000;
  private static final int MAX_FRAME_STRIDE = 1_000_000;

  private final ModelCatalog catalog;
  private final MethodRegistry methods;
  private final ActorRef<ExplainSupervisor.Command> supervisor;
  private final SchedulerMetrics metrics;
  private final ActorSystem<?> system;
  private final Executor decoder;
  private final int streamBuffer;

  /**
   * A service over {@code supervisor}; images are decoded on {@code decoder} and each response
   * stream buffers at most {@code streamBuffer} events before the job waits for its client.
   */
  public ExplainerService(ModelCatalog catalog, MethodRegistry methods,
      ActorRef<ExplainSupervisor.Command> supervisor, SchedulerMetrics metrics,
      ActorSystem<?> system, Executor decoder, int streamBuffer) {
    this.catalog = catalog;
    this.metrics = metrics;
    this.methods = methods;
    this.supervisor = supervisor;
    this.system = system;
    this.decoder = decoder;
    this.streamBuffer = streamBuffer;
  }

  @Override
  public CompletionStage<ListModelsResponse> listModels(ListModelsRequest in, Metadata metadata) {
    ListModelsResponse.Builder out = ListModelsResponse.newBuilder();
    for (ModelPackage m : catalog.all()) {
      out.addModels(ProtoMapping.modelInfo(m, methods.supportedBy(m), m == catalog.defaultModel()));
    }
    return CompletableFuture.completedFuture(out.build());
  }

  @Override
  public CompletionStage<DescribeModelResponse> describeModel(DescribeModelRequest in, Metadata metadata) {
    try {
      ModelPackage m = catalog.require(in.getModel());
      return CompletableFuture.completedFuture(DescribeModelResponse.newBuilder()
          .setModel(ProtoMapping.modelInfo(m, methods.supportedBy(m),
              m == catalog.defaultModel()))
          .build());
    } catch (SalientException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  @Override
  public CompletionStage<ClassifyResponse> classify(ClassifyRequest in, Metadata metadata) {
    CompletionStage<ExplainOrder> order = order(in.getModel(), in.hasImage(), in.getImage(), null,
        Map.of(), new TargetSpec.Predicted(), in.getTopK(), 0, false, false,
        GrpcTimeout.deadlineNanos(metadata));
    return Source.completionStage(order)
        .flatMapConcat(this::submit)
        .runWith(Sink.head(), system)
        .thenApply(event -> {
          var started = (dev.salient.server.method.ExplainEvent.Started) event;
          ClassifyResponse.Builder out = ClassifyResponse.newBuilder().setModel(started.model());
          started.top().forEach(c -> out.addTop(ProtoMapping.score(c)));
          return out.build();
        });
  }

  @Override
  public Source<ExplainEvent, NotUsed> explain(ExplainRequest in, Metadata metadata) {
    CompletionStage<ExplainOrder> order = order(in.getModel(), in.hasImage(), in.getImage(),
        in.getMethod(), in.getParamsMap(), ProtoMapping.target(in.hasTarget(), in.getTarget()),
        in.getTopK(), in.getFrameStride(), in.getFrameTensors(), in.getRenderPng(),
        GrpcTimeout.deadlineNanos(metadata));
    return Source.completionStage(order).flatMapConcat(this::submit).map(ProtoMapping::event);
  }

  @Override
  public CompletionStage<StatsResponse> stats(StatsRequest in, Metadata metadata) {
    return CompletableFuture.completedFuture(ProtoMapping.stats(metrics.snapshot()));
  }

  private Source<dev.salient.server.method.ExplainEvent, NotUsed> submit(ExplainOrder order) {
    return Source.<dev.salient.server.method.ExplainEvent>queue(
            streamBuffer, OverflowStrategy.backpressure())
        .mapMaterializedValue(queue -> {
          supervisor.tell(new ExplainSupervisor.Submit(order, new QueueEventSink(queue)));
          return NotUsed.getInstance();
        });
  }

  /** Validates the request fields and decodes the image on the decoder executor. */
  private CompletionStage<ExplainOrder> order(String modelName, boolean hasImage, Image image,
      String method, Map<String, String> params, TargetSpec target, int topK, int frameStride,
      boolean frameTensors, boolean renderPng, long deadlineNanos) {
    try {
      ModelPackage model = catalog.require(modelName);
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
          frameTensors, renderPng, deadlineNanos), decoder);
    } catch (SalientException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  private static float[] decode(Image image, ModelPackage model) {
    return switch (image.getDataCase()) {
      case ENCODED -> ImageDecoder.decode(image.getEncoded().toByteArray(), model.input());
      case TENSOR -> ImageDecoder.fromTensor(
          image.getTensor().getShapeList().stream().mapToLong(Long::longValue).toArray(),
          image.getTensor().getData().toByteArray(), model.input());
      case DATA_NOT_SET -> throw new SalientException.InvalidArgument("image is missing");
    };
  }
}
