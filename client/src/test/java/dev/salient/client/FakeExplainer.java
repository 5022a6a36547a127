package dev.salient.client;

import dev.salient.grpc.ClassifyRequest;
import dev.salient.grpc.ClassifyResponse;
import dev.salient.grpc.DescribeModelRequest;
import dev.salient.grpc.DescribeModelResponse;
import dev.salient.grpc.ExplainEvent;
import dev.salient.grpc.DroppedFrame;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.ExplainedFrame;
import dev.salient.grpc.Explainer;
import dev.salient.grpc.FrameExplanation;
import dev.salient.grpc.ListModelsRequest;
import dev.salient.grpc.ListModelsResponse;
import dev.salient.grpc.SaliencyMap;
import dev.salient.grpc.VideoFrame;
import dev.salient.grpc.VideoSession;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.NotUsed;
import org.apache.pekko.grpc.GrpcServiceException;
import org.apache.pekko.stream.javadsl.Source;

/** A canned {@link Explainer}: each test sets what it answers and reads back what it was sent. */
public final class FakeExplainer implements Explainer {

  /** What Explain streams; {@code null} with {@link #failure} unset means it never ends. */
  public final AtomicReference<List<ExplainEvent>> events =
      new AtomicReference<>(FakeData.events());

  /** When set, every RPC fails with this status. */
  public final AtomicReference<Status> failure = new AtomicReference<>();

  /** The last requests received. */
  public final AtomicReference<ExplainRequest> lastExplain = new AtomicReference<>();

  public final AtomicReference<ClassifyRequest> lastClassify = new AtomicReference<>();
  public final AtomicReference<DescribeModelRequest> lastDescribe = new AtomicReference<>();

  /** When set, ExplainVideo (only) fails with this status. */
  public final AtomicReference<Status> videoFailure = new AtomicReference<>();

  /** ExplainVideo answers every k-th frame (counted from 1) as superseded; 0: none. */
  public final AtomicInteger dropEvery = new AtomicInteger();

  /** How long ExplainVideo takes per explained frame (frames are explained one at a time). */
  public final AtomicReference<Duration> frameDelay = new AtomicReference<>(Duration.ZERO);

  /** The session of the last ExplainVideo stream, and the frames it carried (with images). */
  public final AtomicReference<VideoSession> lastSession = new AtomicReference<>();

  public final List<VideoFrame> videoFrames = new CopyOnWriteArrayList<>();

  /** Back to the canned answers, before each test. */
  public void reset() {
    videoFailure.set(null);
    dropEvery.set(0);
    frameDelay.set(Duration.ZERO);
    lastSession.set(null);
    videoFrames.clear();
    events.set(FakeData.events());
    failure.set(null);
    lastExplain.set(null);
    lastClassify.set(null);
    lastDescribe.set(null);
  }

  @Override
  public CompletionStage<dev.salient.grpc.StatsResponse> stats(dev.salient.grpc.StatsRequest in) {
    return CompletableFuture.completedFuture(
        dev.salient.grpc.StatsResponse.newBuilder().setAdmitted(1)
            .addModels(dev.salient.grpc.ModelStats.newBuilder().setModel("fashion-mnist")
                .setQueueWaitP99Ms(2.5).setEngineShare(1))
            .build());
  }

  @Override
  public CompletionStage<ListModelsResponse> listModels(ListModelsRequest in) {
    return answer(ListModelsResponse.newBuilder().addModels(FakeData.model()).build());
  }

  @Override
  public CompletionStage<DescribeModelResponse> describeModel(DescribeModelRequest in) {
    lastDescribe.set(in);
    if (!in.getModel().isEmpty() && !in.getModel().equals(FakeData.model().getName())) {
      return CompletableFuture.failedFuture(
          new GrpcServiceException(
              Status.NOT_FOUND.withDescription("unknown model " + in.getModel())));
    }
    return answer(DescribeModelResponse.newBuilder().setModel(FakeData.model()).build());
  }

  @Override
  public CompletionStage<ClassifyResponse> classify(ClassifyRequest in) {
    lastClassify.set(in);
    return answer(FakeData.classification());
  }

  @Override
  public Source<ExplainEvent, NotUsed> explain(ExplainRequest in) {
    lastExplain.set(in);
    Status status = failure.get();
    if (status != null) {
      return Source.failed(new GrpcServiceException(status));
    }
    List<ExplainEvent> canned = events.get();
    return canned == null ? Source.never() : Source.from(canned);
  }

  @Override
  public Source<FrameExplanation, NotUsed> explainVideo(Source<VideoFrame, NotUsed> in) {
    Status status = videoFailure.get() != null ? videoFailure.get() : failure.get();
    if (status != null) {
      return Source.failed(new GrpcServiceException(status));
    }
    int k = dropEvery.get();
    Duration delay = frameDelay.get();
    AtomicLong count = new AtomicLong();
    return in.map(
            f -> {
              if (f.hasSession()) {
                lastSession.set(f.getSession());
              }
              return f;
            })
        .filter(VideoFrame::hasImage)
        .mapAsync(
            1,
            f -> {
              videoFrames.add(f);
              long n = count.incrementAndGet();
              if (k > 0 && n % k == 0) {
                return CompletableFuture.completedFuture(dropped(f));
              }
              return CompletableFuture.supplyAsync(
                  () -> explained(f, delay),
                  CompletableFuture.delayedExecutor(delay.toNanos(), TimeUnit.NANOSECONDS));
            });
  }

  private static FrameExplanation dropped(VideoFrame f) {
    return FrameExplanation.newBuilder()
        .setSequence(f.getSequence())
        .setCaptureTimeUs(f.getCaptureTimeUs())
        .setDropped(DroppedFrame.newBuilder().setReason("superseded"))
        .setServerLatencyUs(10)
        .build();
  }

  private static FrameExplanation explained(VideoFrame f, Duration delay) {
    var sneaker = FakeData.score(7, "Sneaker", 0.98f, 7.5f);
    return FrameExplanation.newBuilder()
        .setSequence(f.getSequence())
        .setCaptureTimeUs(f.getCaptureTimeUs())
        .setExplained(
            ExplainedFrame.newBuilder()
                .setPredicted(sneaker)
                .setTarget(sneaker)
                .addTop(sneaker)
                .addMaps(
                    SaliencyMap.newBuilder()
                        .setName("saliency")
                        .setTensor(FakeData.mapTensor())
                        .setColourScale("diverging")))
        .setServerLatencyUs(delay.toNanos() / 1000 + 100)
        .build();
  }

  private <T> CompletionStage<T> answer(T reply) {
    Status status = failure.get();
    return status != null
        ? CompletableFuture.failedFuture(new GrpcServiceException(status))
        : CompletableFuture.completedFuture(reply);
  }
}
