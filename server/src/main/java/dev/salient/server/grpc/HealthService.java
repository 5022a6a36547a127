package dev.salient.server.grpc;

import dev.salient.grpc.Explainer;
import io.grpc.health.v1.Health;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.NotUsed;
import org.apache.pekko.grpc.GrpcServiceException;
import org.apache.pekko.stream.javadsl.Source;

/**
 * The standard grpc.health.v1.Health service: the whole server ("") and salient.v1.Explainer are
 * SERVING while the server runs and NOT_SERVING once it starts to shut down.
 */
public final class HealthService implements Health {
  private final AtomicReference<ServingStatus> status =
      new AtomicReference<>(ServingStatus.SERVING);
  private final CompletableFuture<ServingStatus> notServing = new CompletableFuture<>();

  /**
   * Marks the server as shutting down (load balancers stop sending new work); Watch streams
   * hear of it at once.
   */
  public void markNotServing() {
    status.set(ServingStatus.NOT_SERVING);
    notServing.complete(ServingStatus.NOT_SERVING);
  }

  /** Whether the server serves: true until it starts to shut down. */
  public boolean serving() {
    return status.get() == ServingStatus.SERVING;
  }

  @Override
  public CompletionStage<HealthCheckResponse> check(HealthCheckRequest in) {
    if (!known(in.getService())) {
      return CompletableFuture.failedFuture(new GrpcServiceException(
          io.grpc.Status.NOT_FOUND.withDescription("unknown service \"" + in.getService()
              + "\"; this server has \"\" and " + Explainer.name)));
    }
    return CompletableFuture.completedFuture(response(status.get()));
  }

  @Override
  public Source<HealthCheckResponse, NotUsed> watch(HealthCheckRequest in) {
    if (!known(in.getService())) {
      return Source.single(response(ServingStatus.SERVICE_UNKNOWN))
          .concat(Source.<HealthCheckResponse>maybe().mapMaterializedValue(p -> NotUsed.getInstance()));
    }
    // The status changes once, at shutdown; the stream then stays open until the server closes.
    ServingStatus now = status.get();
    Source<HealthCheckResponse, NotUsed> change = now == ServingStatus.NOT_SERVING
        ? Source.empty()
        : Source.completionStage(notServing).map(HealthService::response);
    return Source.single(response(now)).concat(change)
        .concat(Source.<HealthCheckResponse>maybe().mapMaterializedValue(p -> NotUsed.getInstance()));
  }

  private static boolean known(String service) {
    return service.isEmpty() || service.equals(Explainer.name);
  }

  private static HealthCheckResponse response(ServingStatus s) {
    return HealthCheckResponse.newBuilder().setStatus(s).build();
  }
}
