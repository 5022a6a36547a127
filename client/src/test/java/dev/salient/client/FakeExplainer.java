package dev.salient.client;

import dev.salient.grpc.ClassifyRequest;
import dev.salient.grpc.ClassifyResponse;
import dev.salient.grpc.DescribeModelRequest;
import dev.salient.grpc.DescribeModelResponse;
import dev.salient.grpc.ExplainEvent;
import dev.salient.grpc.ExplainRequest;
import dev.salient.grpc.Explainer;
import dev.salient.grpc.ListModelsRequest;
import dev.salient.grpc.ListModelsResponse;
import io.grpc.Status;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
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

  /** Back to the canned answers, before each test. */
  public void reset() {
    events.set(FakeData.events());
    failure.set(null);
    lastExplain.set(null);
    lastClassify.set(null);
    lastDescribe.set(null);
  }

  @Override
  public CompletionStage<dev.salient.grpc.StatsResponse> stats(dev.salient.grpc.StatsRequest in) {
    return CompletableFuture.completedFuture(
        dev.salient.grpc.StatsResponse.newBuilder().setAdmitted(1).build());
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

  private <T> CompletionStage<T> answer(T reply) {
    Status status = failure.get();
    return status != null
        ? CompletableFuture.failedFuture(new GrpcServiceException(status))
        : CompletableFuture.completedFuture(reply);
  }
}
