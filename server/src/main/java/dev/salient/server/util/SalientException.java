package dev.salient.server.util;

/**
 * Root of the failures Salient reports to clients. Each subclass maps to one gRPC status in the
 * service layer; the message is shown to the client as it is, so it names the cause and the fix.
 */
public abstract class SalientException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  protected SalientException(String message) {
    super(message);
  }

  protected SalientException(String message, Throwable cause) {
    super(message, cause);
  }

  /** The request itself is wrong (bad image, unknown method, bad parameter). */
  public static final class InvalidArgument extends SalientException {
    private static final long serialVersionUID = 1L;

    public InvalidArgument(String message) {
      super(message);
    }

    public InvalidArgument(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** A named thing (a model) does not exist. */
  public static final class NotFound extends SalientException {
    private static final long serialVersionUID = 1L;

    public NotFound(String message) {
      super(message);
    }
  }

  /**
   * The server is full (too many requests in flight, no decode budget, no memory) or the request
   * is over a configured limit. RESOURCE_EXHAUSTED.
   */
  public static final class CapacityExceeded extends SalientException {
    private static final long serialVersionUID = 1L;

    public CapacityExceeded(String message) {
      super(message);
    }

    public CapacityExceeded(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** A worker failed or the server is stopping; the request may succeed when retried. */
  public static final class Unavailable extends SalientException {
    private static final long serialVersionUID = 1L;

    public Unavailable(String message, Throwable cause) {
      super(message, cause);
    }

    public Unavailable(String message) {
      super(message);
    }
  }

  /**
   * The server is draining before it stops: it takes no new requests, or it stopped this one at
   * the end of the drain period. Another instance can serve the request.
   */
  public static final class ShuttingDown extends SalientException {
    private static final long serialVersionUID = 1L;

    /** The message a new request gets while the server drains. */
    public static final String REFUSED = "server is shutting down; retry on another instance";
    /** The message a request still running at the end of the drain period gets. */
    public static final String CUT_OFF = "the server shut down before this request finished; retry";

    public ShuttingDown(String message) {
      super(message);
    }
  }

  /** The caller did not show a valid bearer token. UNAUTHENTICATED. */
  public static final class Unauthenticated extends SalientException {
    private static final long serialVersionUID = 1L;

    public Unauthenticated(String message) {
      super(message);
    }
  }

  /** The caller's token does not allow what it asked for (a model). PERMISSION_DENIED. */
  public static final class PermissionDenied extends SalientException {
    private static final long serialVersionUID = 1L;

    public PermissionDenied(String message) {
      super(message);
    }
  }

  /** The request's deadline passed before it finished. */
  public static final class DeadlineExceeded extends SalientException {
    private static final long serialVersionUID = 1L;

    public DeadlineExceeded(String message) {
      super(message);
    }
  }
}
