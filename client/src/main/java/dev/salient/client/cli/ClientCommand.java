package dev.salient.client.cli;

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

  /** Checks options and reads local inputs before connecting; IllegalArgumentException = usage. */
  abstract void prepare();

  /** Calls the server and writes the output. */
  abstract void run(ClientSession session, PrintWriter out, PrintWriter err);

  @Override
  public final Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    try {
      try {
        deadline = connection.deadline();
        prepare();
      } catch (IllegalArgumentException e) {
        throw new ParameterException(spec.commandLine(), e.getMessage(), e);
      }
      try (ClientSession session = ClientSession.open(connection.server)) {
        run(session, out, err);
      }
      return 0;
    } catch (StatusRuntimeException e) {
      String description = e.getStatus().getDescription();
      err.println(
          "error: " + e.getStatus().getCode() + (description == null ? "" : ": " + description));
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
