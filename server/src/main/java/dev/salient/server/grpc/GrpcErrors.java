package dev.salient.server.grpc;

import dev.salient.server.util.SalientException;
import io.grpc.Status;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.grpc.GrpcServiceException;
import org.apache.pekko.grpc.Trailers;
import org.apache.pekko.japi.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where failures become gRPC statuses. Known failures keep their message; anything
 * else is INTERNAL and logged with its stack trace.
 */
public final class GrpcErrors {
  private static final Logger log = LoggerFactory.getLogger(GrpcErrors.class);

  private GrpcErrors() {}

  /** The handler passed to the generated handler factories. */
  public static Function<ActorSystem, Function<Throwable, Trailers>> handler() {
    return system -> error -> new Trailers(status(error));
  }

  /** The status for {@code error}; an unknown failure is logged with its stack trace. */
  public static Status status(Throwable error) {
    Throwable e = unwrap(error);
    Status known = known(e);
    if (known != null) {
      return known;
    }
    log.error("internal error", e);
    return Status.INTERNAL.withDescription(
        "internal error: " + e.getClass().getSimpleName() + ": " + e.getMessage()
            + " (see the server log)");
  }

  /** The status code for {@code error}, INTERNAL when it is not known; logs nothing. */
  static Status.Code code(Throwable error) {
    Status known = known(unwrap(error));
    return known == null ? Status.Code.INTERNAL : known.getCode();
  }

  /** The status of a failure Salient knows, or null. */
  private static Status known(Throwable e) {
    if (e instanceof GrpcServiceException g) {
      return g.status();
    }
    if (e instanceof SalientException.InvalidArgument) {
      return Status.INVALID_ARGUMENT.withDescription(e.getMessage());
    }
    if (e instanceof SalientException.NotFound) {
      return Status.NOT_FOUND.withDescription(e.getMessage());
    }
    if (e instanceof SalientException.CapacityExceeded) {
      return Status.RESOURCE_EXHAUSTED.withDescription(e.getMessage());
    }
    if (e instanceof SalientException.Unavailable || e instanceof SalientException.ShuttingDown) {
      return Status.UNAVAILABLE.withDescription(e.getMessage());
    }
    if (e instanceof SalientException.DeadlineExceeded) {
      return Status.DEADLINE_EXCEEDED.withDescription(e.getMessage());
    }
    if (e instanceof SalientException.Unauthenticated) {
      return Status.UNAUTHENTICATED.withDescription(e.getMessage());
    }
    if (e instanceof SalientException.PermissionDenied) {
      return Status.PERMISSION_DENIED.withDescription(e.getMessage());
    }
    return null;
  }

  private static Throwable unwrap(Throwable error) {
    Throwable e = error;
    while ((e instanceof CompletionException || e instanceof ExecutionException)
        && e.getCause() != null) {
      e = e.getCause();
    }
    return e;
  }
}
