package dev.salient.server.grpc;

import io.grpc.Status;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.FlowShape;
import org.apache.pekko.stream.Inlet;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.stage.AbstractInHandler;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.GraphStage;
import org.apache.pekko.stream.stage.GraphStageLogic;
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

  /**
   * {@code stream}, logged when it ends: OK when it completes, the failure's status when it
   * fails, CANCELLED when the client goes away first.
   */
  <T, M> Source<T, M> stream(String rpc, String model, String method, Caller caller,
      Source<T, M> stream) {
    if (!enabled) {
      return stream;
    }
    long start = System.nanoTime();
    return stream.via(new Ended<T>(code -> line(rpc, model, method, caller.name(), code, start)));
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

  /**
   * Passes elements on and reports how the stream ended. Unlike {@code watchTermination}, it
   * tells a client's cancellation (CANCELLED) from a failure of the stream (its status).
   */
  static final class Ended<T> extends GraphStage<FlowShape<T, T>> {
    private final Inlet<T> in = Inlet.create("AccessLog.in");
    private final Outlet<T> out = Outlet.create("AccessLog.out");
    private final FlowShape<T, T> shape = FlowShape.of(in, out);
    private final Consumer<Status.Code> onEnd;

    Ended(Consumer<Status.Code> onEnd) {
      this.onEnd = onEnd;
    }

    @Override
    public FlowShape<T, T> shape() {
      return shape;
    }

    @Override
    public GraphStageLogic createLogic(Attributes attributes) {
      return new GraphStageLogic(shape) {
        {
          setHandler(in, new AbstractInHandler() {
            @Override
            public void onPush() {
              push(out, grab(in));
            }

            @Override
            public void onUpstreamFinish() {
              onEnd.accept(Status.Code.OK);
              completeStage();
            }

            @Override
            public void onUpstreamFailure(Throwable error) {
              onEnd.accept(GrpcErrors.code(error));
              failStage(error);
            }
          });
          setHandler(out, new AbstractOutHandler() {
            @Override
            public void onPull() {
              pull(in);
            }

            @Override
            public void onDownstreamFinish(Throwable cause) {
              onEnd.accept(Status.Code.CANCELLED);
              cancelStage(cause);
            }
          });
        }
      };
    }
  }
}
