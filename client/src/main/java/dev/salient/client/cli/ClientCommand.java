package dev.salient.client.cli;

import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * Base of the subcommands that call a server: connection options and the exit-code contract.
 *
 * <p>Exit codes: 0 success; 1 a failure the user can act on (gRPC status, server unreachable,
 * unreadable file), reported as one {@code error: ...} line on stderr; 2 a usage error.
 */
abstract class ClientCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Mixin ConnectionOptions connection;

  /** The per-call deadline, valid in {@link #run}. */
  Optional<Duration> deadline = Optional.empty();

  private int maxMessageBytes;

  private ClientTls tls;
  /** The bearer token to send, if any (--token or SALIENT_TOKEN). */
  private Optional<String> token = Optional.empty();

  /** Checks options and reads local inputs before connecting; IllegalArgumentException = usage. */
  abstract void prepare();

  /**
   * The status to report: gRPC says CANCELLED "Failed to read message" when a message it received
   * could not be read, with the reason (e.g. over the size limit) as its cause.
   */
  private static Status reported(Status status) {
    return status.getCode() == Status.Code.CANCELLED
        && status.getCause() instanceof StatusRuntimeException cause ? cause.getStatus() : status;
  }

  private static boolean isOverLimit(Status status) {
    return status.getCode() == Status.Code.RESOURCE_EXHAUSTED && status.getDescription() != null
        && status.getDescription().contains("exceeds maximum size");
  }

  /** Calls the server and writes the output. */
  abstract void run(ClientSession session, PrintWriter out, PrintWriter err);

  @Override
  public final Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    try {
      try {
        deadline = connection.deadline();
        maxMessageBytes = connection.maxMessageBytes();
        tls = connection.clientTls();
        token = connection.token(System.getenv());
        prepare();
      } catch (IllegalArgumentException e) {
        throw new ParameterException(spec.commandLine(), e.getMessage(), e);
      }
      try (ClientSession session = ClientSession.open(connection.server, maxMessageBytes, tls,
          token)) {
        run(session, out, err);
      }
      return 0;
    } catch (StatusRuntimeException e) {
      Status status = reported(e.getStatus());
      String description = status.getDescription();
      err.println("error: " + status.getCode() + (description == null ? "" : ": " + description)
          + (isOverLimit(status) ? " (raise --max-message-mib)" : ""));
      return 1;
    } catch (CliFailure e) {
      err.println("error: " + e.getMessage());
      return 1;
    } finally {
      out.flush();
      err.flush();
    }
  }
}
