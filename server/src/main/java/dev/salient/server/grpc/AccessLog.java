package dev.salient.server.grpc;

import io.grpc.Status;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.stream.javadsl.Source;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One INFO line per finished call on the logger {@value #LOGGER}, when turned on
 * ({@code salient.access-log}): the RPC, model, method, client, status code and duration.
 */
public final class AccessLog {
  /** The logger's name, apart from the server's own so it can be routed to a file of its own. */
  public static final String LOGGER = "salient.access";
  /** Logs nothing. */
  public static final AccessLog OFF = new AccessLog(false);

  private static final Logger log = LoggerFactory.getLogger(LOGGER);

  private final boolean enabled;

  /** An access log that writes when {@code enabled}. */
  public AccessLog(boolean enabled) {
    this.enabled = enabled;
  }

  /** {@code answer}, logged when it completes. */
  <T> CompletionStage<T> unary(String rpc, String model, String method, Caller caller,
      CompletionStage<T> answer) {
    if (!enabled) {
      return answer;
    }
    long start = System.nanoTime();
    return answer.whenComplete((ok, error) -> line(rpc, model, method, caller.name(),
        error == null ? Status.Code.OK : GrpcErrors.code(error), start));
  }

  /** {@code stream}, logged when it ends (completed, failed or cancelled). */
  <T, M> Source<T, M> stream(String rpc, String model, String method, Caller caller,
      Source<T, M> stream) {
    if (!enabled) {
      return stream;
    }
    long start = System.nanoTime();
    return stream.watchTermination((mat, done) -> {
      done.whenComplete((ok, error) -> line(rpc, model, method, caller.name(),
          error == null ? Status.Code.OK : GrpcErrors.code(error), start));
      return mat;
    });
  }

  /** A call refused before it reached a service (no valid token). */
  void refused(String rpc, String client, Status.Code code) {
    if (enabled) {
      line(rpc, "-", "-", client, code, System.nanoTime());
    }
  }

  private static void line(String rpc, String model, String method, String client,
      Status.Code code, long startNanos) {
    log.info("rpc={} model={} method={} client={} status={} ms={}", rpc,
        model == null || model.isEmpty() ? "-" : model,
        method == null || method.isEmpty() ? "-" : method, client, code,
        (System.nanoTime() - startNanos) / 1_000_000);
  }
}
