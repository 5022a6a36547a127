package dev.salient.client.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.client.FakeServer;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** --token and SALIENT_TOKEN: the bearer token a server with salient.auth.tokens-file wants. */
class CliTokenTest {

  private FakeServer server;

  record CliRun(int code, String out, String err) {}

  private static CliRun cli(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    CommandLine cmd = new CommandLine(new SalientCli());
    cmd.setOut(new PrintWriter(out, true));
    cmd.setErr(new PrintWriter(err, true));
    int code = cmd.execute(args);
    return new CliRun(code, out.toString(), err.toString());
  }

  private static ConnectionOptions options(String... args) {
    ConnectionOptions options = new ConnectionOptions();
    new CommandLine(options).parseArgs(args);
    return options;
  }

  @AfterEach
  void stop() throws Exception {
    if (server != null) {
      server.close();
    }
  }

  @Test
  void tokenIsSentAsABearerAuthorizationHeader() throws Exception {
    server = FakeServer.start();

    CliRun run = cli("models", "--server", server.address(), "--token", "s3cret-token");

    assertEquals(0, run.code(), run.err());
    assertEquals(List.of("Bearer s3cret-token"), server.authorizations);
  }

  @Test
  void withoutATokenNoAuthorizationHeaderIsSent() throws Exception {
    server = FakeServer.start();

    CliRun run = cli("models", "--server", server.address());

    assertEquals(0, run.code(), run.err());
    assertEquals(List.of(""), server.authorizations);
  }

  @Test
  void withoutTheOptionTheTokenComesFromSalientToken() {
    assertEquals(Optional.of("from-env"),
        options().token(Map.of(ConnectionOptions.TOKEN_VARIABLE, "from-env")));
  }

  @Test
  void theOptionWinsOverSalientToken() {
    assertEquals(Optional.of("from-option"), options("--token", "from-option")
        .token(Map.of(ConnectionOptions.TOKEN_VARIABLE, "from-env")));
  }

  @Test
  void aTokenWithASpaceIsAUsageError() {
    CliRun run = cli("models", "--token", "two words");

    assertEquals(2, run.code());
    assertTrue(run.err().contains("--token must be printable ASCII without spaces"), run.err());
  }
}
